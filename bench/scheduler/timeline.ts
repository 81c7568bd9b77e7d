/**
 * What bounds the first-run burst (BENCH_TIMELINE=1 in run.ts): sampled every SAMPLE_MS while it
 * drains, then read back from the runs and the queue's jobs.
 *   cores     CPU the machine spent (all of it, /proc/stat) beside what the worker hosts, their
 *             runtime children and the database's backends spent: a machine at 2.0 cores is
 *             CPU-bound, measured processes well under it with the machine idle point at a
 *             serial step
 *   waits     the database's backends by state and wait event (a claim queued on the claim lock
 *             shows as Lock:advisory), as shares of the samples
 *   phases    per first run, from its job's claim (pgboss.job.started_on, the claim's transaction
 *             start) to its start (runs.started_at) and its finish (runs.finished_at: when its
 *             settle's transaction began) and its job's completion; and the runs in flight on
 *             average (Little's law: Σ durations / span), claimed and started, against the turns
 *             (host/queue/turns.ts: one per regular runtime child)
 *   from due  the path from the instant the pairs became due to the drain: the first and last of
 *             their jobs queued (the scheduler's ticks), the first claim and the first start, and
 *             the starts in each second after due (a slow first second is the drain warming up)
 */
import { readFileSync } from 'node:fs';
import type { Sql } from '../../host/db/connect.ts';
import { backendsOf, childrenOf, snapshot, used } from '../ingest/cpu-time.ts';

const SAMPLE_MS = 20;
const TICK_MS = 10;

function machineMs(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3]! + fields[4]!;
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) * TICK_MS, total: total * TICK_MS };
}

export interface Timeline {
  stop(): Promise<string>;
}

/** Starts sampling; `stop()` ends it and returns the report (text lines). */
export function startTimeline(sql: Sql, hostPids: number[], dueAt: Date, burstBefore: Date): Timeline {
  const waits = new Map<string, number>();
  let samples = 0;
  let stopping = false;
  const startedAt = Date.now();
  const machine0 = machineMs();
  const children0 = hostPids.flatMap(childrenOf);
  let backends0: number[] = [];
  const before = { hosts: snapshot(hostPids), children: snapshot(children0), postgres: new Map<number, number>() };
  const loop = (async () => {
    backends0 = await backendsOf(sql);
    before.postgres = snapshot(backends0);
    while (!stopping) {
      const rows = await sql<{ key: string; n: number }[]>`
        select coalesce(state, '?') || ' ' || coalesce(wait_event_type || ':' || wait_event, 'on CPU') as key, count(*)::int as n
        from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() group by 1`;
      for (const r of rows) waits.set(r.key, (waits.get(r.key) ?? 0) + r.n);
      samples++;
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      const seconds = (Date.now() - startedAt) / 1000;
      const machine1 = machineMs();
      const cores = (ms: number) => (ms / 1000 / seconds).toFixed(2);
      const hostsMs = used(before.hosts, hostPids);
      const childrenMs = used(before.children, hostPids.flatMap(childrenOf));
      const postgresMs = used(before.postgres, [...new Set([...backends0, ...(await backendsOf(sql))])]);
      const lines = [
        `timeline over ${seconds.toFixed(1)} s: cores busy, machine ${cores(machine1.busy - machine0.busy)} of ${((machine1.total - machine0.total) / 1000 / seconds).toFixed(2)}; ` +
          `measured ${cores(hostsMs + childrenMs + postgresMs)} (worker hosts ${cores(hostsMs)}, runtime children ${cores(childrenMs)}, postgres ${cores(postgresMs)})`,
        `database backends (mean per sample, ${samples} samples): ` +
          [...waits].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${(n / samples).toFixed(2)}`).join(', '),
      ];
      const [phases] = await sql<Array<Record<string, number | null>>>`
        with r as (
          select extract(epoch from r.started_at - j.started_on) * 1000 as claim_start,
                 extract(epoch from r.finished_at - r.started_at) * 1000 as start_finish,
                 extract(epoch from j.completed_on - r.finished_at) * 1000 as finish_complete,
                 r.started_at, r.finished_at, j.started_on, r.wall_ms
          from runs r join pgboss.job j on j.id::text = r.job_id
          where r.trigger = 'schedule' and r.finished_at is not null and r.scheduled_for < ${burstBefore})
        select count(*)::int as runs,
          percentile_cont(0.5) within group (order by claim_start) as claim_start_p50,
          percentile_cont(0.99) within group (order by claim_start) as claim_start_p99,
          percentile_cont(0.5) within group (order by start_finish) as start_finish_p50,
          percentile_cont(0.99) within group (order by start_finish) as start_finish_p99,
          percentile_cont(0.5) within group (order by wall_ms) as wall_p50,
          percentile_cont(0.5) within group (order by finish_complete) as finish_complete_p50,
          sum(extract(epoch from finished_at - started_on)) / nullif(extract(epoch from max(finished_at) - min(started_on)), 0) as in_flight,
          sum(extract(epoch from finished_at - started_at)) / nullif(extract(epoch from max(finished_at) - min(started_on)), 0) as started_in_flight
        from r`;
      const f = (v: number | null | undefined) => (v === null || v === undefined ? '–' : Number(v).toFixed(1));
      lines.push(
        `per run (${phases!.runs} first runs): claim → start p50 ${f(phases!.claim_start_p50)} / p99 ${f(phases!.claim_start_p99)} ms, ` +
          `start → finish p50 ${f(phases!.start_finish_p50)} / p99 ${f(phases!.start_finish_p99)} ms (the child's wall p50 ${f(phases!.wall_p50)} ms), ` +
          `finish → job completed p50 ${f(phases!.finish_complete_p50)} ms; in flight on average: claimed ${f(phases!.in_flight)}, started ${f(phases!.started_in_flight)}`,
      );
      const [path] = await sql<Array<Record<string, number | null>>>`
        with b as (
          select j.created_on, j.started_on, r.started_at from runs r join pgboss.job j on j.id::text = r.job_id
          where r.trigger = 'schedule' and r.scheduled_for < ${burstBefore})
        select extract(epoch from min(created_on) - ${dueAt}::timestamptz) * 1000 as first_queued,
          extract(epoch from max(created_on) - ${dueAt}::timestamptz) * 1000 as last_queued,
          extract(epoch from min(started_on) - ${dueAt}::timestamptz) * 1000 as first_claim,
          extract(epoch from min(started_at) - ${dueAt}::timestamptz) * 1000 as first_start
        from b`;
      const perSecond = await sql<{ s: number; n: number }[]>`
        select floor(extract(epoch from r.started_at - ${dueAt}::timestamptz))::int as s, count(*)::int as n
        from runs r where r.trigger = 'schedule' and r.scheduled_for < ${burstBefore} group by 1 order by 1`;
      const counts = new Map(perSecond.map((r) => [r.s, r.n]));
      const lastSecond = Math.max(0, ...perSecond.map((r) => r.s));
      lines.push(
        `from due: first job queued ${f(path!.first_queued)} ms, last ${f(path!.last_queued)} ms; first claim ${f(path!.first_claim)} ms, first start ${f(path!.first_start)} ms; ` +
          `starts in each second after due: ${Array.from({ length: lastSecond + 1 }, (_, i) => counts.get(i) ?? 0).join(' ')}`,
      );
      return lines.join('\n');
    },
  };
}
