/**
 * A run's limits cover the host's work for it, through the real host: a run whose batch waits on
 * a record lock ends at its wall limit (whether the script still awaits the write or already
 * returned with it in flight), its transaction is cancelled and rolled back, and the slot is free;
 * a script that fires many large batchSave calls without awaiting them waits in its own isolate,
 * so the host's memory stays bounded and /healthz keeps answering.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startDemoProvider, type DemoProvider } from '../../demo/provider.ts';
import { lockRecordModel } from '../../host/store/records.ts';
import { deploySources, idForThisAttempt, startTestFerry, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const WALL_MS = 4_000;
/** The script pauses first, so the test holds the record locks before it writes. */
const PAUSE_MS = 1_500;

const FLOOD_CALLS = 16;
const FLOOD_RECORDS = 8_000;
/** What the host may grow by while the flood runs: a few batches of it at once, not all 16. */
const HOST_RSS_BOUND_MB = 120;

const flood = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'un-awaited batches',
  frequency: 'every hour',
  limits: { memoryMb: 1024, wallTimeMs: 120_000 },
  models: { Item: z.object({ id: z.string(), v: z.string() }) },
  exec: async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, ${PAUSE_MS}));
    for (let p = 0; p < ${FLOOD_CALLS}; p++) {
      // ~1 KB records, ~8 MB of JSON per call: 128 MB in all, far more than the host may hold.
      const page = Array.from({ length: ${FLOOD_RECORDS} }, (_, i) => ({ id: p + '-' + i, v: 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(28) + i }));
      void ctx.batchSave(page, 'Item');
    }
  },
});`;

const lockedSync = (name: string, model: string, awaitsSecond: boolean) => `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: '${name}',
  frequency: 'every hour',
  limits: { wallTimeMs: ${WALL_MS} },
  models: { ${model}: z.object({ id: z.string() }) },
  exec: async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, ${PAUSE_MS}));
    await ctx.batchSave([{ id: 'first' }], '${model}');
    ${awaitsSecond ? `await ctx.batchSave([{ id: 'second' }], '${model}');` : '// returns while its only batch is still being written'}
  },
});`;

let ferry: TestFerry;
let provider: DemoProvider;

beforeAll(async () => {
  provider = await startDemoProvider({ apiKey: 'k', contacts: 1 });
  ferry = await startTestFerry();
  await ferry.api.put('/providers/demo', { base_url: provider.url, auth: { type: 'bearer' } });
  await deploySources(ferry, {
    'demo/syncs/awaits-write.ts': lockedSync('awaits its write', 'Thing', true),
    'demo/syncs/returns-mid-write.ts': lockedSync('returns mid-write', 'Other', false),
    'flood/syncs/flood.ts': flood,
  });
  await ferry.api.put('/providers/flood', { base_url: provider.url, auth: { type: 'none' } });
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

test('a run whose writes wait on a lock ends at its wall limit; its transactions are cancelled and roll back', async () => {
  const conn = idForThisAttempt('c1');
  expect((await ferry.api.post('/connections', { connection_id: conn, provider: 'demo', credentials: { type: 'bearer', token: 'k' } })).status).toBe(201);
  const [{ id } = { id: '' }] = await ferry.db.sql<{ id: string }[]>`select id::text as id from connections where connection_id = ${conn}`;
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  const holder = ferry.db.sql.begin(async (tx) => {
    await lockRecordModel(tx, id, 'Thing');
    await lockRecordModel(tx, id, 'Other');
    await released;
  });
  try {
    for (const sync of ['awaits-write', 'returns-mid-write']) {
      // It ends while the locks are still held (they go only below): at its wall limit, not once the lock is free.
      const run = await waitForRun(ferry.api, conn, sync, '0', WALL_MS + 30_000);
      expect(run.status).toBe('failed');
      expect(run.error).toMatchObject({ kind: 'limit', code: 'WALL_TIME', limit: WALL_MS });
      const [row] = await ferry.db.sql<{ ms: number }[]>`select extract(epoch from finished_at - started_at) * 1000 as ms from runs where id = ${run.id}`;
      expect(Number(row!.ms)).toBeGreaterThanOrEqual(WALL_MS);
    }
    // Nothing of the runs still waits on the locks: their statements were cancelled.
    const waiting = await waitFor('no backend waiting on a lock', async () => {
      const [row] = await ferry.db.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
      return row!.n === 0 ? row!.n : undefined;
    }, 15_000);
    expect(waiting).toBe(0);
  } finally {
    release();
    await holder;
  }
  // Rolled back: nothing of the failed runs is stored...
  const [stored] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from records where connection_id = ${id}`;
  expect(stored!.n).toBe(0);
  // The slots are free: a new run of each goes through at once.
  const newRuns: string[] = [];
  for (const sync of ['awaits-write', 'returns-mid-write']) {
    const [last] = (await ferry.api.get(`/runs?connection_id=${conn}&sync=${sync}&limit=1`)).body.runs;
    expect((await ferry.api.post(`/syncs/${sync}/trigger`, { connection_id: conn })).status).toBeLessThan(300);
    const run = await waitForRun(ferry.api, conn, sync, last.id, 60_000);
    expect(run.status).toBe('succeeded');
    newRuns.push(String(run.id));
  }
  // ...nor committed late once the locks went away: every record stored is the new runs' own.
  const written = await ferry.db.sql<{ id: string; last_run_id: string }[]>`
    select id, last_run_id::text from records where connection_id = ${id} order by id`;
  expect(written.map((r) => r.id)).toEqual(['first', 'first', 'second']);
  for (const record of written) expect(newRuns).toContain(record.last_run_id);
}, 60_000);

test('un-awaited large batchSave calls wait in the isolate: host RSS stays bounded, /healthz answers, every record is stored', async () => {
  const conn = idForThisAttempt('f1');
  expect((await ferry.api.post('/connections', { connection_id: conn, provider: 'flood' })).status).toBe(201);
  const [{ id } = { id: '' }] = await ferry.db.sql<{ id: string }[]>`select id::text as id from connections where connection_id = ${conn}`;
  // The host's writes are held back (another writer keeps the model locked) while the script
  // fires all its calls: whatever the host accepts from the run piles up in its memory.
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  const holder = ferry.db.sql.begin(async (tx) => {
    await lockRecordModel(tx, id, 'Item');
    await released;
  });
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  // /healthz answers, one after another, for as long as the test probes: how many came back
  // while the flood's writes were held is what the host managed while the run worked.
  const healthStatuses: number[] = [];
  let answeredWhileHeld = 0;
  let holding = true;
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const { status } = await ferry.api.get('/healthz');
      healthStatuses.push(status);
      if (holding) answeredWhileHeld++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  let runningWhileHeld: string | undefined;
  try {
    // Long enough for the script to have built and handed over every batch it may.
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS + 8_000));
    [{ status: runningWhileHeld } = { status: undefined }] = await ferry.db.sql<{ status: string }[]>`
      select status from runs where connection_id = ${id} order by id desc limit 1`;
  } finally {
    holding = false;
    clearInterval(sampler);
    release();
    await holder;
  }
  // The flood was still at work (its writes held) all the while the probes above were answered.
  expect(runningWhileHeld).toBe('running');
  try {
    const run = await waitForRun(ferry.api, conn, 'flood', '0', 120_000);
    expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
    expect(run.counts).toMatchObject({ added: FLOOD_CALLS * FLOOD_RECORDS });
  } finally {
    probing = false;
    await prober;
  }
  const grewMb = (peak - baseline) / (1024 * 1024);
  expect(grewMb, `host RSS grew ${Math.round(grewMb)} MB`).toBeLessThan(HOST_RSS_BOUND_MB);
  // The host kept answering while the hostile run worked: every probe a 200, several of them
  // while its writes were held (how fast is bench/'s business, not this test's).
  expect(healthStatuses.every((status) => status === 200), JSON.stringify(healthStatuses)).toBe(true);
  expect(answeredWhileHeld, `/healthz answers while the flood's writes were held`).toBeGreaterThanOrEqual(3);
  const [stored] = await ferry.db.sql<{ n: number }[]>`
    select count(*)::int as n from records r join connections c on c.id = r.connection_id where c.connection_id = ${conn}`;
  expect(stored!.n).toBe(FLOOD_CALLS * FLOOD_RECORDS);
}, 180_000);
