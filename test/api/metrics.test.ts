/**
 * /healthz checks the database; /metrics serves Prometheus text with values read from Postgres:
 * runs by kind and status, run durations, records written, queue depth.
 */
import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { RUN_DURATION_BUCKETS } from '../../host/metrics/index.ts';
import { startTestFerry, type TestFerry } from '../helpers/ferry.ts';

let ferry: TestFerry;
beforeAll(async () => {
  ferry = await startTestFerry();
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'm', provider: 'plain' })).status).toBe(201);
});
afterAll(async () => { await ferry?.close(); });

/** `name{labels} value` lines → a map keyed by the name with its labels as written. */
function parseSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

test('GET /healthz answers without a key and checks the database', async () => {
  const response = await fetch(`${ferry.url}/healthz`);
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ ok: true, database: 'ok' });
});

test('GET /metrics reports runs by status, durations, records written and queue depth from Postgres', async () => {
  const [connection] = await ferry.db.sql<{ id: string }[]>`select id from connections where connection_id = 'm'`;
  const run = (status: string, wallMs: number | null, added: number, updated: number, deleted: number) => ferry.db.sql`
    insert into runs (connection_id, script_name, kind, script_version, status, trigger, wall_ms, added, updated, deleted, finished_at)
    values (${connection!.id}, ${`s-${status}-${wallMs}`}, 'sync', 1, ${status}, 'manual', ${wallMs}, ${added}, ${updated}, ${deleted}, ${status === 'running' ? null : new Date()})`;
  await run('succeeded', 50, 10, 2, 1);
  await run('succeeded', 2_000, 5, 0, 0);
  await run('failed', 400, 1, 0, 0);
  await run('running', null, 3, 0, 0);
  // Queue depth: two waiting jobs, one taken by a worker, one finished (not depth).
  const boss = new PgBoss({ connectionString: ferry.db.url, schema: 'pgboss', supervise: false, schedule: false, migrate: false });
  await boss.start();
  try {
    await boss.createQueue('metrics-test');
    for (let i = 0; i < 4; i++) await boss.send('metrics-test', { i });
    const [done] = await boss.fetch('metrics-test');
    await boss.complete('metrics-test', done!.id);
    await boss.fetch('metrics-test');
  } finally {
    await boss.stop({ graceful: false });
  }

  const response = await fetch(`${ferry.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  expect(text).toContain('# TYPE ferry_run_duration_seconds histogram');
  const m = parseSamples(text);

  expect(m.get('ferry_runs{kind="sync",status="succeeded"}')).toBe(2);
  expect(m.get('ferry_runs{kind="sync",status="failed"}')).toBe(1);
  expect(m.get('ferry_runs{kind="sync",status="running"}')).toBe(1);

  // Durations of the three finished runs: 0.05 s, 0.4 s, 2 s; cumulative buckets.
  expect(m.get('ferry_run_duration_seconds_count{kind="sync"}')).toBe(3);
  expect(m.get('ferry_run_duration_seconds_sum{kind="sync"}')).toBeCloseTo(2.45, 5);
  expect(m.get('ferry_run_duration_seconds_bucket{kind="sync",le="0.1"}')).toBe(1);
  expect(m.get('ferry_run_duration_seconds_bucket{kind="sync",le="0.5"}')).toBe(2);
  expect(m.get('ferry_run_duration_seconds_bucket{kind="sync",le="5"}')).toBe(3);
  expect(m.get('ferry_run_duration_seconds_bucket{kind="sync",le="+Inf"}')).toBe(3);
  const buckets = RUN_DURATION_BUCKETS.map((le) => m.get(`ferry_run_duration_seconds_bucket{kind="sync",le="${le}"}`)!);
  expect([...buckets].sort((a, b) => a - b)).toEqual(buckets);

  expect(m.get('ferry_records_written_total{action="added"}')).toBe(19);
  expect(m.get('ferry_records_written_total{action="updated"}')).toBe(2);
  expect(m.get('ferry_records_written_total{action="deleted"}')).toBe(1);

  expect(m.get('ferry_queue_jobs{queue="metrics-test",state="created"}')).toBe(2);
  expect(m.get('ferry_queue_jobs{queue="metrics-test",state="active"}')).toBe(1);
  expect(m.has('ferry_queue_jobs{queue="metrics-test",state="completed"}')).toBe(false);
});

test('with FERRY_METRICS_TOKEN set, GET /metrics answers only that bearer token (401 with a JSON error otherwise); /healthz stays open', async () => {
  const token = 'metrics-token-0123456789';
  const guarded = await startTestFerry({ FERRY_METRICS_TOKEN: token });
  try {
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Bearer ${token}x`, token]) {
      const response = await fetch(`${guarded.url}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(response.status, String(authorization)).toBe(401);
      expect(await response.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.stringContaining('FERRY_METRICS_TOKEN') } });
    }
    const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('ferry_runs');
    expect((await fetch(`${guarded.url}/healthz`)).status).toBe(200);
  } finally {
    await guarded.close();
  }
});
