/**
 * `ferry dev --demo` on a fresh data folder, as a newcomer first runs it: the demo deploys the
 * project's scripts before connecting, and the deploy dev reports is that one — every script
 * "new", not a second deploy's "unchanged" — after which the demo's first run prints its line.
 */
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { devEnv, REPO, spawnCli, tempDir } from '../helpers/cli-process.ts';

test('the first deploy of a fresh `ferry dev --demo` lists every script as new, and the demo syncs run', async () => {
  const tmp = await tempDir('ferry-dev-demo-');
  const scripts = join(tmp, 'scripts');
  await cp(join(REPO, 'scripts/demo'), join(scripts, 'demo'), { recursive: true, filter: (src) => !src.endsWith('.test.ts') });
  const dev = spawnCli(['dev', '--demo', '--dir', scripts, '--port', '0', '--data-dir', join(tmp, 'data'), '--json'], { cwd: tmp, env: devEnv() });
  const { events } = dev;

  const deployed = await dev.waitFor('the first deploy', () => events().find((e) => e.event === 'deployed'), 120_000);
  expect(deployed.version).toBe(1);
  expect(deployed.scripts.length).toBeGreaterThan(0);
  expect(deployed.scripts.filter((s: { status: string }) => s.status !== 'new')).toEqual([]);
  expect(events().filter((e) => e.event === 'deployed')).toHaveLength(1);

  const ran = await dev.waitFor('a demo run', () => events().find((e) => e.event === 'run' && e.run.sync === 'contacts'), 90_000);
  expect(ran).toMatchObject({ connection_id: 'demo-connection', run: { status: 'succeeded' } });

  expect(await dev.stop('SIGINT')).toBe(0);
}, 300_000);
