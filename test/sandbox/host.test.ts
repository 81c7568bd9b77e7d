/**
 * The sandbox's guarantees as a whole host keeps them: logs of failed and killed runs are stored
 * and paged at GET /runs/:id/logs, usage is in GET /runs, and a worker process that dies under a
 * run leaves that run failed with the cause (never "running") while the host carries on.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deployScripts } from '../../cli/deploy.ts';
import { TEST_SECRET_KEY, waitFor, waitForRun, workerChildren, type TestFerry } from '../helpers/ferry.ts';
import { startDemoCrmHost, type DemoCrmHost } from '../helpers/demo-crm-host.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/sandbox', import.meta.url));
let ferry: TestFerry;
let host: DemoCrmHost;

beforeAll(async () => {
  host = await startDemoCrmHost(3, (f) => deployScripts({ dir: FIXTURES, url: f.url, key: TEST_SECRET_KEY }));
  ferry = host.ferry;
});
afterAll(() => host?.close());

async function allLogs(runId: string, pageSize: number): Promise<{ logs: any[]; pages: number }> {
  const logs: any[] = [];
  let after = -1;
  let pages = 0;
  for (;;) {
    const { status, body } = await ferry.api.get(`/runs/${runId}/logs?after=${after}&limit=${pageSize}`);
    expect(status).toBe(200);
    pages++;
    if (body.logs.length === 0) return { logs, pages };
    logs.push(...body.logs);
    after = body.next_after;
  }
}

test('a failed run keeps every log line, paged in order, and its usage (bridge bytes, proxy calls) is in GET /runs', async () => {
  const run = await waitForRun(ferry.api, 'c1', 'chatty-fail', '0', 60_000);
  expect(run.status).toBe('failed');
  expect(run.error).toMatchObject({ kind: 'script', code: 'SCRIPT_ERROR', message: 'chatty gave up' });
  expect(run.usage.proxy_calls).toBe(2);
  expect(run.usage.bridge_bytes).toBeGreaterThan(0);
  expect(run.usage.wall_ms).toBeGreaterThan(0);
  expect(run.usage.peak_heap_bytes).toBeGreaterThan(0);
  expect(run.counts.added).toBe(1);

  const { logs, pages } = await allLogs(run.id, 500);
  expect(pages).toBe(4); // 500 + 500 + 200, then an empty page
  expect(logs.map((l) => l.message)).toEqual(Array.from({ length: 1200 }, (_, i) => `line ${i}`));
  expect(logs.slice(0, 4).map((l) => l.level)).toEqual(['debug', 'info', 'warn', 'error']);
  for (const log of logs.slice(0, 3)) expect(Number.isNaN(Date.parse(log.at))).toBe(false);
});

test('a run killed at its wall-time limit fails with WALL_TIME and keeps its logs', async () => {
  const run = await waitForRun(ferry.api, 'c1', 'sleeper', '0', 60_000);
  expect(run.status).toBe('failed');
  expect(run.error).toMatchObject({ kind: 'limit', code: 'WALL_TIME', limit: 800 });
  expect(run.error.used).toBeGreaterThanOrEqual(800);
  const { logs } = await allLogs(run.id, 100);
  expect(logs.map((l) => [l.level, l.message])).toEqual([['warn', 'waiting forever']]);
});

test('a worker process that dies under a run leaves it failed with the cause, and the host carries on', async () => {
  // Let the other fixtures finish first: every worker child is killed below.
  await waitForRun(ferry.api, 'c1', 'chatty-fail', '0', 60_000);
  await waitForRun(ferry.api, 'c1', 'sleeper', '0', 60_000);
  const neighbour = await waitForRun(ferry.api, 'c1', 'neighbour', '0', 60_000);
  expect(neighbour.status).toBe('succeeded');

  const hanging = await waitFor('the hanger to log', async () => {
    const { body } = await ferry.api.get('/runs?connection_id=c1&sync=hanger&limit=1');
    const run = body.runs?.[0];
    if (!run || run.status !== 'running') return undefined;
    const { body: logs } = await ferry.api.get(`/runs/${run.id}/logs`);
    return logs.logs.some((l: any) => l.message === 'hanging') ? run : undefined;
  }, 60_000);
  const victims = workerChildren();
  expect(victims.length).toBeGreaterThan(0);
  for (const pid of victims) process.kill(pid, 'SIGKILL');

  const dead = await waitForRun(ferry.api, 'c1', 'hanger', String(BigInt(hanging.id) - 1n), 60_000);
  expect(dead.id).toBe(hanging.id);
  expect(dead.status).toBe('failed');
  expect(dead.error).toMatchObject({ kind: 'internal', code: 'WORKER_CRASHED', message: expect.stringContaining('SIGKILL') });
  const { logs } = await allLogs(dead.id, 100);
  expect(logs.map((l) => l.message)).toEqual(['hanging']);

  // The API never ran the script; it is still up, and replaced workers run the next script.
  expect((await ferry.api.get('/healthz')).status).toBe(200);
  await ferry.api.post('/syncs/neighbour/trigger', { connection_id: 'c1' });
  const next = await waitForRun(ferry.api, 'c1', 'neighbour', neighbour.id, 60_000);
  expect(next.status).toBe('succeeded');
  expect(workerChildren().some((pid) => victims.includes(pid))).toBe(false);
});
