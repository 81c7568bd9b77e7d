/**
 * A run's CPU limit counts the script's own CPU, not the time it waits on the host: a script
 * whose proxied calls go to a provider that answers slowly, and whose batchSave the host holds
 * (another writer keeps the model locked), spends seconds waiting under a CPU limit far below
 * that, succeeds, and records a CPU time far below its wall time. A script whose worker must share
 * its core with three busy processes is charged its own CPU, not the time the others held the core
 * (isolated-vm's `cpuTime` alone counted that: run-cpu.ts). The converse: a busy loop under the
 * same limit is still stopped with CPU.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { lockRecordModel } from '../../host/store/records.ts';
import { deploySources, idForThisAttempt, startTestFerry, waitFor, waitForRun, workerChildren, type TestFerry } from '../helpers/ferry.ts';

const CPU_LIMIT_MS = 500;
const SLOW_CALLS = 6;
const ANSWER_AFTER_MS = 400;
/** How long the test holds the model's lock once the script's batch waits on it. */
const HOLD_WRITE_MS = 2_000;
const WAITING_MS = SLOW_CALLS * ANSWER_AFTER_MS + HOLD_WRITE_MS;

const waiter = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'waits on the host',
  frequency: 'every hour',
  limits: { cpuTimeMs: ${CPU_LIMIT_MS}, wallTimeMs: 60_000 },
  models: { Slow: z.object({ id: z.string(), n: z.number() }) },
  exec: async (ctx) => {
    for (let i = 0; i < ${SLOW_CALLS}; i++) {
      const res = await ctx.proxy({ endpoint: '/slow', params: { i } });
      await ctx.batchSave([{ id: 'r' + i, n: res.data.n }], 'Slow');
    }
  },
});`;

const spinner = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'busy loop',
  frequency: 'every hour',
  limits: { cpuTimeMs: ${CPU_LIMIT_MS}, wallTimeMs: 60_000 },
  models: { Spin: z.object({ id: z.string() }) },
  exec: async (ctx) => {
    let x = 0;
    for (;;) x = (x * 31 + 7) % 1000003;
  },
});`;

/** A fixed amount of the script's own work: ~0.3 s of CPU on this machine (~6 ns an iteration). */
const WORK_ITERATIONS = 50_000_000;
const CONTENDED_LIMIT_MS = 1_000;
const SPINNERS = 3;

const worker = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'fixed work',
  frequency: 'every hour',
  limits: { cpuTimeMs: ${CONTENDED_LIMIT_MS}, wallTimeMs: 60_000 },
  models: { Work: z.object({ id: z.string(), x: z.number() }) },
  exec: async (ctx) => {
    let x = 0;
    for (let i = 0; i < ${WORK_ITERATIONS}; i++) x = (x * 31 + i) % 1000003;
    await ctx.batchSave([{ id: 'done', x }], 'Work');
  },
});`;

let ferry: TestFerry;
let provider: Server;
let providerUrl = '';
let answered = 0;

beforeAll(async () => {
  provider = createServer((req, res) => {
    const i = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('i'));
    setTimeout(() => {
      answered++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ n: i }));
    }, ANSWER_AFTER_MS);
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  providerUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  ferry = await startTestFerry();
  await ferry.api.put('/providers/slow', { base_url: providerUrl, auth: { type: 'none' } });
  await ferry.api.put('/providers/spin', { base_url: providerUrl, auth: { type: 'none' } });
  await ferry.api.put('/providers/work', { base_url: providerUrl, auth: { type: 'none' } });
  await deploySources(ferry, { 'slow/syncs/waiter.ts': waiter, 'spin/syncs/spinner.ts': spinner, 'work/syncs/worker.ts': worker });
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await new Promise((resolve) => provider?.close(resolve));
});

test('seconds spent waiting on slow proxied calls and a held batchSave do not count against a 500 ms CPU limit', async () => {
  const connectionId = idForThisAttempt('w1'); // a connection of its own on each attempt
  const answeredBefore = answered;
  expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'slow' })).status).toBe(201);
  const [{ id } = { id: '' }] = await ferry.db.sql<{ id: string }[]>`select id::text as id from connections where connection_id = ${connectionId}`;
  // Hold the model's lock until the first batch waits on it, then a while longer.
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => { locked = resolve; });
  const holder = ferry.db.sql.begin(async (tx) => {
    await lockRecordModel(tx, id, 'Slow');
    locked();
    await released;
  });
  await isLocked;
  try {
    await waitFor('the batch waiting on the lock', async () => {
      const [row] = await ferry.db.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
      return row!.n > 0 ? true : undefined;
    }, 30_000);
    await new Promise((resolve) => setTimeout(resolve, HOLD_WRITE_MS));
  } finally {
    release();
    await holder;
  }
  const run = await waitForRun(ferry.api, connectionId, 'waiter', '0', 60_000);
  expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
  expect(answered - answeredBefore).toBe(SLOW_CALLS);
  expect(run.counts).toMatchObject({ added: SLOW_CALLS });
  // It did wait that long (timers may fire a ms or two early; the lock wait is detected by polling).
  expect(run.usage.wall_ms).toBeGreaterThan(WAITING_MS * 0.9);
  // The script's own work is a few ms a call; its waiting is seconds.
  expect(run.usage.cpu_ms).toBeLessThan(CPU_LIMIT_MS);
  expect(run.usage.cpu_ms * 8).toBeLessThan(WAITING_MS);
}, 90_000);

test('a script sharing its core with three busy processes is charged its own CPU, not their time on the core', async () => {
  const connectionId = idForThisAttempt('k1'); // a connection of its own on each attempt
  // Every thread of every worker process, and the spinners, on core 0.
  const workers = workerChildren();
  expect(workers.length).toBeGreaterThan(0);
  for (const pid of workers) expect(spawnSync('taskset', ['-a', '-p', '-c', '0', String(pid)]).status).toBe(0);
  const spinners: ChildProcess[] = [];
  try {
    for (let i = 0; i < SPINNERS; i++) spinners.push(spawn('taskset', ['-c', '0', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }));
    expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'work' })).status).toBe(201);
    const run = await waitForRun(ferry.api, connectionId, 'worker', '0', 60_000);
    expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
    expect(run.counts).toMatchObject({ added: 1 });
    // The core was shared: the run took longer than its CPU limit, yet used well under it.
    expect(run.usage.wall_ms).toBeGreaterThan(CONTENDED_LIMIT_MS);
    expect(run.usage.cpu_ms).toBeGreaterThan(50);
    expect(run.usage.cpu_ms).toBeLessThan(CONTENDED_LIMIT_MS * 0.7);
  } finally {
    for (const spinner of spinners) spinner.kill('SIGKILL');
    for (const pid of workerChildren()) spawnSync('taskset', ['-a', '-p', '-c', `0-${availableParallelism() - 1}`, String(pid)]);
  }
}, 90_000);

test('a busy loop under the same limit is still stopped with CPU', async () => {
  const connectionId = idForThisAttempt('s1'); // a connection of its own on each attempt
  expect((await ferry.api.post('/connections', { connection_id: connectionId, provider: 'spin' })).status).toBe(201);
  const run = await waitForRun(ferry.api, connectionId, 'spinner', '0', 60_000);
  expect(run.status).toBe('failed');
  expect(run.error).toMatchObject({ kind: 'limit', code: 'CPU', limit: CPU_LIMIT_MS });
  expect(run.error.used).toBeGreaterThanOrEqual(CPU_LIMIT_MS);
  expect(run.usage.cpu_ms).toBeGreaterThanOrEqual(CPU_LIMIT_MS);
}, 90_000);
