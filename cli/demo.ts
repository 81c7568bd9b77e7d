/**
 * The demo with its scripts bundled and deployed by this CLI: the host's `setUpDemo` takes the
 * deploy step as a function, because the host does not import the CLI.
 */
import { setUpDemo, type DemoSetup, type Logger } from '@ferry/host';
import { deployScripts } from './deploy.ts';

export function setUpDemoWithScripts(options: { url: string; secretKey: string; logger: Logger; scriptsDir: string; driftEveryMs?: number }): Promise<DemoSetup> {
  return setUpDemo({
    ...options,
    deploy: (dir) => deployScripts({
      dir, url: options.url, key: options.secretKey,
      onProgress: (e) => { if (e.type === 'bundled') options.logger.info({ script: e.script.name, bytes: e.bytes }, 'bundled'); },
    }),
  });
}
