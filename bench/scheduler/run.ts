/**
 * Scheduler benchmark: 2,000 (connection, sync) pairs due every minute, no-op scripts, worked by
 * 2 worker processes — two `node host/main.ts` hosts with FERRY_ROLE=worker against one fresh
 * database (the production split: N worker hosts pulling from one pg-boss queue), each with its
 * default 2 runtime child processes. This process is the API host that deploys and connects.
 *
 * Prints, from the runs table:
 *   burst    the 2,000 first runs, all due at one instant (the sync deployed to 2,000 existing
 *            connections, after both worker hosts are up): drain rate (the capacity, runs/s) and
 *            its start lag
 *   steady   the following minutes, each pair on its own phase within the minute: start lag
 *            (runs.started_at − runs.scheduled_for) p50/p99 and runs/s
 * beside a baseline measured in the same run on the same database: raw pg-boss send → handler
 * start for the same number of jobs, as a burst and paced at the steady rate, with Ferry's worker
 * slots (host/queue/slots.ts: claim one job, claim again at once, 0.5 s polling only when none
 * was claimable), two workers of concurrency 2 and a no-op handler.
 *
 * and the CPU the burst cost per run (user + system from /proc, between the first run's start and
 * the burst's last finish): the two worker hosts, their runtime children, the database's backends.
 * The machine is shared, so rates move with its load; CPU per run moves much less.
 *
 * Run: npx node bench/scheduler/run.ts   (BENCH_PAIRS=2000, BENCH_STEADY_S=120, BENCH_RUNTIME_WORKERS=2;
 * BENCH_WORKER_NODE_OPTIONS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", is passed to the worker hosts' node as flags
 * (Node refuses --cpu-prof in NODE_OPTIONS);
 * BENCH_LOG_STATEMENTS=1 logs the worker hosts' statements with their durations to the Postgres server log;
 * BENCH_TIMELINE=1 samples the burst as it drains and prints where it waits: timeline.ts)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PgBoss } from 'pg-boss';
import { deployScripts } from '../../cli/deploy.ts';
import { loadConfig } from '../../host/config.ts';
import { generateEncryptionKey } from '../../host/crypto/cipher.ts';
import { createLogger } from '../../host/logger.ts';
import { pgBossDb } from '../../host/queue/pg-boss-db.ts';
import { startSlots } from '../../host/queue/slots.ts';
import { startFerry } from '../../host/server.ts';
import { createApiClient } from '../../test/helpers/ferry.ts';
import { backendsOf, childrenOf, snapshot, threadCpu, used, type Snapshot } from '../ingest/cpu-time.ts';
import { BENCH_ADMIN_URL, createBenchDatabase } from '../ingest/fresh-db.ts';
import { startTimeline, type Timeline } from './timeline.ts';

const PAIRS = Number(process.env.BENCH_PAIRS ?? 2000);
const STEADY_S = Number(process.env.BENCH_STEADY_S ?? 120);
const RUNTIME_WORKERS = process.env.BENCH_RUNTIME_WORKERS ?? '2';
const PERIOD_S = 60;
const SECRET = 'fsk_bench_scheduler_0123456789';
const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
const MAIN = fileURLToPath(new URL('../../host/main.ts', import.meta.url));

const logger = createLogger({ level: 'warn' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * A worker host is ready once it said it is running (host/main.ts) and it and its runtime
 * children have gone quiet: the children have booted (isolated-vm, the prelude snapshot) and
 * the host is only ticking. Quiet = under 50 ms of CPU in a second, whatever the machine's load.
 */
async function workerReady(worker: ChildProcess): Promise<void> {
  let out = '';
  await new Promise<void>((resolve, reject) => {
    worker.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ferry worker is running')) resolve();
    });
    worker.once('exit', (code) => reject(new Error(`a worker host exited (${code}) before it was running`)));
  });
  worker.stdout!.resume();
  for (;;) {
    const pids = () => [worker.pid!, ...childrenOf(worker.pid!)];
    const before = snapshot(pids());
    await sleep(1_000);
    if (childrenOf(worker.pid!).length >= Number(RUNTIME_WORKERS) && used(before, pids()) < 50) return;
  }
}

const db = await createBenchDatabase(logger);
const dataDir = await mkdtemp(join(tmpdir(), 'ferry-bench-scheduler-'));
const url = new URL(BENCH_ADMIN_URL);
url.pathname = `/${db.name}`;
const env = {
  DATABASE_URL: url.toString(), FERRY_SECRET_KEY: SECRET, FERRY_ENCRYPTION_KEY: generateEncryptionKey(), FERRY_DATA_DIR: dataDir,
};
const workers: ChildProcess[] = [];

try {
  // --- Baseline: raw pg-boss, same database, same job count, same polling and concurrency.
  async function pgBossBaseline(): Promise<{ burst: { p50: number; p99: number; perS: number }; paced: { p50: number; p99: number } }> {
    const queue = 'bench-baseline';
    const bosses = [0, 1].map(() => new PgBoss({ db: pgBossDb(db.sql), schema: 'pgboss', supervise: false, schedule: false, migrate: true }));
    for (const b of bosses) { b.on('error', () => {}); await b.start(); }
    await bosses[0]!.createQueue(queue).catch(() => {});
    const lags: number[] = [];
    let done = 0;
    let lastStart = 0;
    const slots = bosses.map((b) => startSlots<{ sentAt: number }>(2, {
      boss: b, queue, claim: {}, pollMs: 500, heartbeatMs: 30_000, logger: createLogger({ level: 'silent' }),
      handler: async (job) => {
        const now = Date.now();
        lags.push(now - job.data.sentAt);
        lastStart = now;
        done++;
      },
    }));
    const sentAt = Date.now();
    await bosses[0]!.insert(queue, Array.from({ length: PAIRS }, () => ({ data: { sentAt } })));
    while (done < PAIRS) await sleep(100);
    const burstLags = [...lags].sort((a, b) => a - b);
    const burst = { p50: percentile(burstLags, 50), p99: percentile(burstLags, 99), perS: PAIRS / ((lastStart - sentAt) / 1000) };
    lags.length = 0;
    // Paced at the steady rate (PAIRS per minute) for 15 s.
    const gap = (PERIOD_S * 1000) / PAIRS;
    const pacedJobs = Math.round(15_000 / gap);
    done = 0;
    for (let i = 0; i < pacedJobs; i++) {
      await bosses[0]!.send(queue, { sentAt: Date.now() });
      await sleep(gap);
    }
    while (done < pacedJobs) await sleep(100);
    const pacedLags = [...lags].sort((a, b) => a - b);
    for (const slot of slots) await slot.stop(5_000);
    for (const b of bosses) await b.stop({ graceful: true, timeout: 5_000 });
    return { burst, paced: { p50: percentile(pacedLags, 50), p99: percentile(pacedLags, 99) } };
  }
  const baseline = await pgBossBaseline();

  // --- Ferry: an API host here, PAIRS connections of a provider with no sync yet, two worker
  // hosts started and ready, then the no-op sync deployed. The deploy makes every connection of
  // the provider carry the sync, due now, in one statement (sync-state.ts: ensureForSync): all
  // PAIRS pairs become due at one instant with both workers up, so the burst's lag is the
  // scheduler's and the runs', not creating connections or booting the workers.
  const api = await startFerry(loadConfig({ ...env, FERRY_ROLE: 'api', FERRY_PORT: '0', FERRY_LOG_LEVEL: 'warn' }), logger);
  const client = createApiClient(api.url!, SECRET);
  const put = await client.put('/providers/noop', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } });
  if (put.status !== 200) throw new Error(`PUT /providers/noop → ${put.status}`);
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < PAIRS) {
      const i = next++;
      const res = await client.post('/connections', { connection_id: `c${i}`, provider: 'noop' });
      if (res.status !== 201) throw new Error(`POST /connections → ${res.status}`);
    }
  }));

  // Profiling aid: every statement of the worker hosts with its duration, in the server's log.
  if (process.env.BENCH_LOG_STATEMENTS) await db.sql.unsafe(`alter database ${db.name} set log_min_duration_statement = 0`);
  for (let i = 0; i < 2; i++) {
    const flags = process.env.BENCH_WORKER_NODE_OPTIONS?.split(/\s+/).filter(Boolean) ?? [];
    const child = spawn(process.execPath, [...flags, MAIN], {
      env: {
        ...process.env, ...env, FERRY_ROLE: 'worker', FERRY_RUNTIME_WORKERS: RUNTIME_WORKERS, FERRY_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    workers.push(child);
  }
  await Promise.all(workers.map(workerReady));

  await deployScripts({ dir: FIXTURES, url: api.url!, key: SECRET });
  const [pairRow] = await db.sql<{ n: number }[]>`select count(*)::int as n from sync_state`;
  if (pairRow!.n !== PAIRS) throw new Error(`the deploy made ${pairRow!.n} pairs, not ${PAIRS}`);
  // The instant the pairs became due: the deploy's transaction time, which is its deployment row's
  // created_at and every new pair's next_run_at (the workers may have claimed and moved some already).
  const [dueRow] = await db.sql<{ first_due: Date }[]>`select max(created_at) as first_due from deployments`;
  const steadyFrom = new Date(dueRow!.first_due.getTime() + PERIOD_S * 1000);
  const steadyTo = new Date(steadyFrom.getTime() + STEADY_S * 1000);
  process.stdout.write(`${PAIRS} pairs every ${PERIOD_S} s; measuring runs scheduled in the ${STEADY_S} s after the first minute…\n`);
  // CPU of the burst: from its first run's start to its last run's finish, polled every 100 ms;
  // on a machine too loaded to drain it before the steady window, up to the window's start, per
  // run settled by then (the steady runs would be counted after it).
  const hostPids = workers.map((w) => w.pid!);
  const burstRuns = async () => (await db.sql<{ started: number; settled: number }[]>`
    select count(*)::int as started, count(*) filter (where status <> 'running')::int as settled from runs where scheduled_for < ${steadyFrom}`)[0]!;
  // The children's CPU by thread too (child-cpu.ts says which thread does what), summed over them.
  const childThreads = (pids: number[]) => {
    const sum = new Map<string, number>();
    for (const pid of pids) for (const [name, ms] of threadCpu(pid, 'main')) sum.set(name, (sum.get(name) ?? 0) + ms);
    return sum;
  };
  let cpuBefore: { hosts: Snapshot; children: Snapshot; childThreads: Map<string, number>; postgres: Snapshot } | null = null;
  let burstCpu: { hostsMs: number; childrenMs: number; childThreadsMs: Map<string, number>; postgresMs: number; runs: number } | null = null;
  let timeline: Timeline | null = null;
  let timelineReport: string | null = null;
  while (burstCpu === null && Date.now() < steadyTo.getTime()) {
    const { started, settled } = await burstRuns();
    if (!cpuBefore && started > 0) {
      const children = hostPids.flatMap(childrenOf);
      cpuBefore = { hosts: snapshot(hostPids), children: snapshot(children), childThreads: childThreads(children), postgres: snapshot(await backendsOf(db.sql)) };
      if (process.env.BENCH_TIMELINE) timeline = startTimeline(db.sql, hostPids, dueRow!.first_due, steadyFrom);
    }
    if (cpuBefore && (settled >= PAIRS || (Date.now() >= steadyFrom.getTime() && settled > 0))) {
      const children = hostPids.flatMap(childrenOf);
      burstCpu = {
        hostsMs: used(cpuBefore.hosts, hostPids), childrenMs: used(cpuBefore.children, children),
        childThreadsMs: new Map([...childThreads(children)].map(([name, ms]) => [name, ms - (cpuBefore!.childThreads.get(name) ?? 0)])),
        postgresMs: used(cpuBefore.postgres, [...new Set([...cpuBefore.postgres.keys(), ...(await backendsOf(db.sql))])]),
        runs: settled,
      };
      if (timeline) timelineReport = await timeline.stop();
    }
    await sleep(100);
  }
  while (Date.now() < steadyTo.getTime() + 5_000) await sleep(1_000);
  // Every run scheduled in the window has started (or the bench reports the ones that did not).
  await sleep(5_000);

  const lagsOf = async (from: Date, to: Date) => (await db.sql<{ lag: number }[]>`
    select extract(epoch from started_at - scheduled_for) * 1000 as lag from runs
    where trigger = 'schedule' and scheduled_for >= ${from} and scheduled_for < ${to} order by 1`).map((r) => Number(r.lag));
  const [burstSpan] = await db.sql<{ n: number; first_start: Date | null; last_finish: Date | null }[]>`
    select count(*)::int as n, min(started_at) as first_start, max(finished_at) as last_finish from runs
    where scheduled_for < ${steadyFrom}`;
  const burstLags = await lagsOf(new Date(0), steadyFrom);
  const steadyLags = await lagsOf(steadyFrom, steadyTo);
  const [states] = await db.sql<{ failed: number; pending: number }[]>`
    select count(*) filter (where status = 'failed')::int as failed, count(*) filter (where status = 'running')::int as pending from runs`;
  // Every pair ran every minute on its slot: consecutive scheduled runs of a pair exactly a period apart.
  const [gaps] = await db.sql<{ irregular: number; pairs: number }[]>`
    select count(*) filter (where gap <> ${PERIOD_S} * interval '1 second')::int as irregular, count(distinct connection_id)::int as pairs from (
      select connection_id, scheduled_for - lag(scheduled_for) over (partition by connection_id order by scheduled_for) as gap
      from runs where trigger = 'schedule' and scheduled_for >= ${steadyFrom} and scheduled_for < ${steadyTo}) g`;

  // Under heavy load the burst may not have drained (or even started) within the window: report what ran, never crash.
  const burstSeconds = burstSpan!.first_start && burstSpan!.last_finish ? (burstSpan!.last_finish.getTime() - burstSpan!.first_start.getTime()) / 1000 : NaN;
  const rows: Array<[string, string, string, string]> = [
    ['Ferry, first runs (all due at once)', fmt(percentile(burstLags, 50)), fmt(percentile(burstLags, 99)), `${(burstSpan!.n / burstSeconds).toFixed(1)} (drain, ${burstSpan!.n} runs)`],
    ['Ferry, steady (phased over the minute)', fmt(percentile(steadyLags, 50)), fmt(percentile(steadyLags, 99)), `${(steadyLags.length / STEADY_S).toFixed(1)} (${steadyLags.length} runs of ${gaps!.pairs} pairs)`],
    ['pg-boss send → work, burst (baseline)', fmt(baseline.burst.p50), fmt(baseline.burst.p99), `${baseline.burst.perS.toFixed(1)} (${PAIRS} jobs)`],
    ['pg-boss send → work, paced (baseline)', fmt(baseline.paced.p50), fmt(baseline.paced.p99), `${(PAIRS / PERIOD_S).toFixed(1)} (paced)`],
  ];
  process.stdout.write(`\n| path | start lag p50 | start lag p99 | runs/s |\n|---|---|---|---|\n`);
  for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
  if (burstCpu) {
    const per = (ms: number) => (ms / burstCpu!.runs).toFixed(2);
    const partial = burstCpu.runs < PAIRS ? ` (the ${burstCpu.runs} runs settled before the steady window)` : '';
    process.stdout.write(`\nburst CPU per run${partial} (ms): worker hosts ${per(burstCpu.hostsMs)}, runtime children ${per(burstCpu.childrenMs)}, postgres backends ${per(burstCpu.postgresMs)}, total ${per(burstCpu.hostsMs + burstCpu.childrenMs + burstCpu.postgresMs)}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    process.stdout.write(`runtime children by thread (ms per run): ${[...burstCpu.childThreadsMs].map(([name, ms]) => `${name} ${per(ms)}`).join(', ')}\n`);
  }
  if (timelineReport) process.stdout.write(`\n${timelineReport}\n`);
  process.stdout.write(`\nfailed runs: ${states!.failed}, still running: ${states!.pending}, consecutive runs of a pair not ${PERIOD_S} s apart: ${gaps!.irregular}; target p99 < 5 s: ${percentile(steadyLags, 99) < 5000 ? 'met' : 'NOT met'}\n`);
  await api.close();
} finally {
  await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
    if (w.exitCode !== null) return resolve();
    w.once('exit', () => resolve());
    w.kill('SIGTERM');
  })));
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
}
