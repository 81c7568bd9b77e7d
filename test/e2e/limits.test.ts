/**
 * A script that allocates past its memory limit fails its own run with a MEMORY error; the
 * host keeps serving and the next runs of other scripts succeed.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import { TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { startDemoCrmHost, type DemoCrmHost } from '../helpers/demo-crm-host.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/limits', import.meta.url));
let ferry: TestFerry;
let host: DemoCrmHost;

beforeAll(async () => {
  host = await startDemoCrmHost(1, (f) => deployScripts({ dir: FIXTURES, url: f.url, key: TEST_SECRET_KEY }));
  ferry = host.ferry;
});
afterAll(() => host?.close());

test('a run past its memory limit fails with MEMORY, and the host and other runs carry on', async () => {
  const hog = await waitForRun(ferry.api, 'c1', 'memory-hog', '0', 60_000);
  expect(hog.status).toBe('failed');
  expect(hog.error).toMatchObject({ kind: 'limit', code: 'MEMORY' });
  expect(hog.usage.peak_heap_bytes).toBeGreaterThan(16 * 1024 * 1024);

  expect((await ferry.api.get('/healthz')).status).toBe(200);
  const first = await waitForRun(ferry.api, 'c1', 'small');
  expect(first.status).toBe('succeeded');

  // Again after the hog: whichever worker process it killed has been replaced.
  await ferry.api.post('/syncs/memory-hog/trigger', { connection_id: 'c1' });
  const hog2 = await waitForRun(ferry.api, 'c1', 'memory-hog', hog.id, 60_000);
  expect(hog2.error.code).toBe('MEMORY');
  await ferry.api.post('/syncs/small/trigger', { connection_id: 'c1' });
  const second = await waitForRun(ferry.api, 'c1', 'small', first.id);
  expect(second.status).toBe('succeeded');
  expect(second.usage.peak_heap_bytes).toBeGreaterThan(0);
});
