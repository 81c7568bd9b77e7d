/**
 * `npm start`'s demo: a local CRM-like provider, the example scripts deployed through the same
 * HTTP path the CLI uses, and a connection whose first sync starts at once.
 */
import { fileURLToPath } from 'node:url';
import { deployScripts } from '../cli/deploy.ts';
import { DEMO_PROVIDERS, startDemoProvider, type DemoProvider } from '../demo/provider.ts';
import type { Logger } from './logger.ts';

export const DEMO_CONNECTION_ID = 'demo-connection';
/** One connection per demo provider: demo-connection (CRM), helpdesk-connection, billing-connection, chat-connection. */
export const demoConnectionId = (provider: string) => (provider === 'demo' ? DEMO_CONNECTION_ID : `${provider}-connection`);
const DEMO_PROVIDER_KEY = 'demo-provider-secret';

export interface DemoSetup {
  provider: DemoProvider;
  connectionId: string;
  close(): Promise<void>;
}

async function call(url: string, key: string, method: string, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

export async function setUpDemo(options: { url: string; secretKey: string; logger: Logger; scriptsDir?: string; driftEveryMs?: number }): Promise<DemoSetup> {
  const provider = await startDemoProvider({ apiKey: DEMO_PROVIDER_KEY, contacts: 500, driftEveryMs: options.driftEveryMs ?? 20_000 });
  try {
    for (const name of DEMO_PROVIDERS) {
      await call(options.url, options.secretKey, 'PUT', `/providers/${name}`, { base_url: provider.baseUrls[name], auth: { type: 'bearer' } });
    }
    const dir = options.scriptsDir ?? fileURLToPath(new URL('../scripts', import.meta.url));
    const deployed = await deployScripts({
      dir, url: options.url, key: options.secretKey,
      onProgress: (e) => { if (e.type === 'bundled') options.logger.info({ script: e.script.name, bytes: e.bytes }, 'bundled'); },
    });
    options.logger.info({ version: deployed.version, scripts: deployed.scripts }, 'example scripts deployed');
    for (const name of DEMO_PROVIDERS) {
      await call(options.url, options.secretKey, 'POST', '/connections', {
        connection_id: demoConnectionId(name), provider: name, credentials: { type: 'bearer', token: DEMO_PROVIDER_KEY },
      });
    }
    return { provider, connectionId: DEMO_CONNECTION_ID, close: () => provider.close() };
  } catch (err) {
    await provider.close();
    throw err;
  }
}
