/**
 * Never two runs of one (connection, sync) at once: with two worker slots free and the pair
 * triggered again and again while a slow run is in progress, at most one run of the pair is
 * running at any moment and their time spans never intersect.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import { startDemoProvider, type DemoProvider } from '../../demo/provider.ts';
import { startTestFerry, TEST_SECRET_KEY, waitFor, type TestFerry } from '../helpers/ferry.ts';

const SCRIPTS = fileURLToPath(new URL('../../scripts', import.meta.url));
let ferry: TestFerry;
let provider: DemoProvider;

beforeAll(async () => {
  provider = await startDemoProvider({ apiKey: 'k', contacts: 300 });
  ferry = await startTestFerry({ FERRY_RUNTIME_WORKERS: '2' });
  await deployScripts({ dir: SCRIPTS, url: ferry.url, key: TEST_SECRET_KEY });
  await ferry.api.put('/providers/demo', { base_url: provider.url, auth: { type: 'bearer' } });
});
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

test('repeated triggers during a slow run never start a second run of the pair', async () => {
  provider.delayNext(300, 1000); // every page is slow: each run lasts a few seconds
  await ferry.api.post('/connections', { connection_id: 'busy', provider: 'demo', credentials: { type: 'bearer', token: 'k' } });
  const [conn] = await ferry.db.sql<{ id: string }[]>`select id from connections where connection_id = 'busy'`;

  let maxRunning = 0;
  const deadline = Date.now() + 8_000;
  while (Date.now() < deadline) {
    await ferry.api.post('/syncs/contacts/trigger', { connection_id: 'busy' });
    await ferry.api.post('/syncs/contacts/trigger', { connection_id: 'busy', full: true });
    const [row] = await ferry.db.sql<{ n: number }[]>`
      select count(*)::int as n from runs where connection_id = ${conn!.id} and script_name = 'contacts' and status = 'running'`;
    maxRunning = Math.max(maxRunning, row!.n);
    await new Promise((r) => setTimeout(r, 50));
  }
  provider.delayNext(0, 0);
  const runs = await waitFor('the queued runs to finish', async () => {
    const rows = await ferry.db.sql<{ started_at: Date; finished_at: Date | null; status: string }[]>`
      select started_at, finished_at, status from runs where connection_id = ${conn!.id} and script_name = 'contacts' order by id`;
    return rows.length >= 2 && rows.every((r) => r.status !== 'running') ? rows : undefined;
  }, 60_000);

  expect(maxRunning).toBe(1);
  for (let i = 1; i < runs.length; i++) expect(runs[i]!.started_at.getTime()).toBeGreaterThanOrEqual(runs[i - 1]!.finished_at!.getTime());
});
