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
import { deploySources, startTestFerry, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';

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
  expect((await ferry.api.post('/connections', { connection_id: 'c1', provider: 'demo', credentials: { type: 'bearer', token: 'k' } })).status).toBe(201);
  const [{ id } = { id: '' }] = await ferry.db.sql<{ id: string }[]>`select id::text as id from connections where connection_id = 'c1'`;
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  const holder = ferry.db.sql.begin(async (tx) => {
    await lockRecordModel(tx, id, 'Thing');
    await lockRecordModel(tx, id, 'Other');
    await released;
  });
  try {
    for (const sync of ['awaits-write', 'returns-mid-write']) {
      const run = await waitForRun(ferry.api, 'c1', sync, '0', WALL_MS + 10_000);
      expect(run.status).toBe('failed');
      expect(run.error).toMatchObject({ kind: 'limit', code: 'WALL_TIME', limit: WALL_MS });
      const [row] = await ferry.db.sql<{ ms: number }[]>`select extract(epoch from finished_at - started_at) * 1000 as ms from runs where id = ${run.id}`;
      expect(Number(row!.ms)).toBeLessThan(WALL_MS + 2_500);
    }
    // Nothing of the runs still waits on the locks: their statements were cancelled.
    const waiting = await waitFor('no backend waiting on a lock', async () => {
      const [row] = await ferry.db.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
      return row!.n === 0 ? row!.n : undefined;
    }, 3_000);
    expect(waiting).toBe(0);
  } finally {
    release();
    await holder;
  }
  // Rolled back, not committed late once the locks went away.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const [stored] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from records where connection_id = ${id}`;
  expect(stored!.n).toBe(0);
  // The slots are free: a new run of each goes through at once.
  for (const sync of ['awaits-write', 'returns-mid-write']) {
    const [last] = (await ferry.api.get(`/runs?connection_id=c1&sync=${sync}&limit=1`)).body.runs;
    expect((await ferry.api.post(`/syncs/${sync}/trigger`, { connection_id: 'c1' })).status).toBeLessThan(300);
    expect((await waitForRun(ferry.api, 'c1', sync, last.id, 20_000)).status).toBe('succeeded');
  }
}, 60_000);

test('un-awaited large batchSave calls wait in the isolate: host RSS stays bounded, /healthz answers, every record is stored', async () => {
  expect((await ferry.api.post('/connections', { connection_id: 'f1', provider: 'flood' })).status).toBe(201);
  const [{ id } = { id: '' }] = await ferry.db.sql<{ id: string }[]>`select id::text as id from connections where connection_id = 'f1'`;
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
  const healthMs: number[] = [];
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const at = performance.now();
      expect((await ferry.api.get('/healthz')).status).toBe(200);
      healthMs.push(performance.now() - at);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    // Long enough for the script to have built and handed over every batch it may.
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS + 8_000));
  } finally {
    clearInterval(sampler);
    release();
    await holder;
  }
  try {
    const run = await waitForRun(ferry.api, 'f1', 'flood', '0', 120_000);
    expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
    expect(run.counts).toMatchObject({ added: FLOOD_CALLS * FLOOD_RECORDS });
  } finally {
    probing = false;
    await prober;
  }
  const grewMb = (peak - baseline) / (1024 * 1024);
  expect(grewMb, `host RSS grew ${Math.round(grewMb)} MB`).toBeLessThan(HOST_RSS_BOUND_MB);
  expect(healthMs.length).toBeGreaterThan(5);
  // Under the 2.2 s the issue measured, on a shared 2-core machine while 128 MB are written.
  expect(Math.max(...healthMs), `slowest /healthz ${Math.round(Math.max(...healthMs))} ms`).toBeLessThan(2_000);
  const [stored] = await ferry.db.sql<{ n: number }[]>`
    select count(*)::int as n from records r join connections c on c.id = r.connection_id where c.connection_id = 'f1'`;
  expect(stored!.n).toBe(FLOOD_CALLS * FLOOD_RECORDS);
}, 180_000);
