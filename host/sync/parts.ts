/**
 * Parallel first sync: a full pass of a sync that declares `split` is cut into parts (time
 * windows between a start and now, or the keys the script's `split.partitions` returns, run by
 * the run that splits: run-sync.ts), each run as its own run, anywhere, with its own checkpoint
 * and retries (sync_parts, migration 0141). The pass is the sync_state row's, as for any pass:
 * it succeeds, moving lastSyncDate and applying full-refresh deletes, only in the transaction
 * that settles its last part. The scheduler tick dispatches due parts as queue jobs in their
 * environment's group (host/queue/queue.ts), so the environment's fairness rules cover them.
 */
import { MAX_PARTS, type ScriptManifest } from '@ferry/runtime/contract';
import type { Sql, TransactionSql } from '../db/connect.ts';
import { readOne, rowRead, type RowRead } from '../db/read-together.ts';
import { parseDuration } from './frequency.ts';

type Db = Sql | TransactionSql;
export type SplitSpec = NonNullable<Extract<ScriptManifest, { type: 'sync' }>['split']>;
export type TimeSplit = Extract<SplitSpec, { by: 'time' }>;

/** At most this many parts per pass: a window too small for the span is refused at deploy, a longer key list when the split runs. */
export { MAX_PARTS };

export interface PartKey {
  connectionId: string;
  syncName: string;
  variant: string;
  part: string;
}

export interface PartRow {
  connection_id: string;
  sync_name: string;
  variant: string;
  part: string;
  window_from: Date | null;
  window_to: Date | null;
  status: 'pending' | 'queued' | 'running' | 'failed' | 'succeeded';
  checkpoint: Record<string, unknown> | null;
  retry_attempt: number;
  next_run_at: Date | null;
  run_id: string | null;
  /** Marked by a manual trigger of the paused pair: runs once despite the pause. */
  run_while_paused: boolean;
}

export interface DuePart {
  connection_id: string;
  sync_name: string;
  variant: string;
  part: string;
  environment_id: string;
  provider: string;
}

export interface PartWindow {
  part: string;
  from: Date | null;
  to: Date | null;
}

/** The start of the split: an ISO date, or a duration back from `now`. */
function splitStart(spec: TimeSplit, now: Date): Date {
  const back = parseDuration(spec.from);
  if (back !== null) return new Date(now.getTime() - back);
  const at = Date.parse(spec.from);
  if (Number.isNaN(at)) throw new Error(`split.from "${spec.from}" is neither an ISO date nor a duration such as "2 years"`);
  return new Date(at);
}

/**
 * The windows of a pass started at `now`: [from, from+every), …, the last one open-ended (to
 * null) so records changed while the pass runs are not missed; before the start, nothing.
 * Throws naming the field when the spec cannot be used (checked at deploy too).
 */
export function planWindows(spec: TimeSplit, now: Date): PartWindow[] {
  const every = parseDuration(spec.every);
  if (every === null || every <= 0) throw new Error(`split.every "${spec.every}" is not a duration such as "30 days"`);
  const start = splitStart(spec, now);
  if (start.getTime() >= now.getTime()) throw new Error(`split.from "${spec.from}" is not before now`);
  const count = Math.ceil((now.getTime() - start.getTime()) / every);
  if (count > MAX_PARTS) throw new Error(`split makes ${count} parts (from ${start.toISOString()} every ${spec.every}); at most ${MAX_PARTS}: use a longer "every"`);
  return Array.from({ length: count }, (_, i) => {
    const from = new Date(start.getTime() + i * every);
    return { part: from.toISOString(), from, to: i === count - 1 ? null : new Date(from.getTime() + every) };
  });
}

/** A key split's parts: one per key (already checked: distinct, at most MAX_PARTS), no window. */
export function keyParts(keys: readonly string[]): PartWindow[] {
  return keys.map((key) => ({ part: key, from: null, to: null }));
}

const where = (tx: Db, k: PartKey) => tx`connection_id = ${k.connectionId} and sync_name = ${k.syncName} and variant = ${k.variant} and part = ${k.part}`;
const ofPair = (tx: Db, k: Omit<PartKey, 'part'>) => tx`connection_id = ${k.connectionId} and sync_name = ${k.syncName} and variant = ${k.variant}`;

export function createParts(sql: Sql) {
  /** One part (a run of it reads it with its other reads: read-together.ts). */
  const partRead = (k: PartKey, db: Db = sql): RowRead<PartRow | null> =>
    rowRead(db`select * from sync_parts where ${where(db, k)}`, (row) => (row as PartRow | undefined) ?? null);
  const anyRead = (pair: Omit<PartKey, 'part'>): RowRead<boolean> =>
    rowRead(sql`select from sync_parts where ${ofPair(sql, pair)} limit 1`, (row) => row !== undefined);

  return {
    /** Replaces the pair's parts with a new pass's (in the fenced transaction that begins the pass). */
    async begin(tx: TransactionSql, pair: Omit<PartKey, 'part'>, windows: PartWindow[]): Promise<void> {
      await tx`delete from sync_parts where ${ofPair(tx, pair)}`;
      const rows = windows.map((w) => ({
        connection_id: pair.connectionId, sync_name: pair.syncName, variant: pair.variant, part: w.part, window_from: w.from, window_to: w.to,
      }));
      for (let i = 0; i < rows.length; i += 500) {
        await tx`insert into sync_parts ${tx(rows.slice(i, i + 500), 'connection_id', 'sync_name', 'variant', 'part', 'window_from', 'window_to')}`;
      }
    },

    partRead,

    get(k: PartKey, db: Db = sql): Promise<PartRow | null> {
      return readOne(partRead(k, db));
    },

    /**
     * Whether the pair has a split pass going on (any part): read with a run's other reads, so a
     * pair with none (nearly every run) skips `rearm`, a write and a round trip.
     */
    anyRead,

    any(pair: Omit<PartKey, 'part'>): Promise<boolean> {
      return readOne(anyRead(pair));
    },

    /**
     * A run of the pair while its split pass is going: parts that gave up are due again with
     * fresh retries, held ones (see hold) due again (the pass resumes; parts that succeeded stay
     * done). False when it has none.
     */
    async rearm(pair: Omit<PartKey, 'part'>, options: { whilePaused?: boolean } = {}): Promise<boolean> {
      // A manual trigger of a paused pair runs it, as it runs a sync that is not split: each part
      // not done is marked to be claimed and run once despite the pause (cleared as it starts).
      if (options.whilePaused) await sql`update sync_parts set run_while_paused = true where ${ofPair(sql, pair)} and status in ('pending', 'queued', 'failed')`;
      const [row] = await sql<{ n: number }[]>`
        with rearmed as (
          update sync_parts set next_run_at = now(), retry_attempt = case when status = 'failed' then 0 else retry_attempt end
          where ${ofPair(sql, pair)} and status in ('failed', 'pending') and next_run_at is null returning 1
        )
        select (select count(*)::int from sync_parts where ${ofPair(sql, pair)}) as n`;
      return (row?.n ?? 0) > 0;
    },

    /**
     * Claims due parts (pending, or failed with a retry due) of pairs not paused (or marked by a
     * manual trigger to run while paused: rearm), marking them
     * queued, in the caller's transaction (the enqueue commits with it). SKIP LOCKED: ticking
     * workers never claim a part twice.
     */
    async claimDue(tx: TransactionSql, limit: number): Promise<DuePart[]> {
      return tx<DuePart[]>`
        with due as (
          select p.connection_id, p.sync_name, p.variant, p.part from sync_parts p
          join sync_state s on s.connection_id = p.connection_id and s.sync_name = p.sync_name and s.variant = p.variant
          where p.status in ('pending', 'failed') and p.next_run_at <= now()
            and (p.run_while_paused or (not s.paused and not exists (select 1 from paused_connections pc where pc.connection_id = p.connection_id)))
          order by p.next_run_at limit ${limit}
          for update of p skip locked
        )
        update sync_parts p set status = 'queued', next_run_at = null
        from due, connections c
        where p.connection_id = due.connection_id and p.sync_name = due.sync_name and p.variant = due.variant and p.part = due.part
          and c.id = p.connection_id
        returning p.connection_id, p.sync_name, p.variant, p.part, c.environment_id, c.provider`;
    },

    /**
     * A claimed part that cannot run yet (run-blockers.ts: its provider is not configured, its
     * connection needs re-authorisation): pending with no due time ("held"), so the tick does not
     * claim it again and again. releaseHeld (the provider configured), resumeAfterReauth
     * (sync-state.ts) or the pair's next run (rearm) makes it due. Due at once if the
     * blocker went meanwhile (a PUT /providers or new credentials that raced the hold).
     */
    async hold(k: PartKey, waitsFor: 'provider' | 'reauth'): Promise<void> {
      const gone = waitsFor === 'provider'
        ? sql`exists (select 1 from connections c join providers pr on pr.environment_id = c.environment_id and pr.name = c.provider where c.id = p.connection_id)`
        : sql`exists (select 1 from connections c where c.id = p.connection_id and c.auth_status = 'ok')`;
      await sql`
        update sync_parts p set status = 'pending', next_run_at = case when ${gone} then now() end
        where ${where(sql, k)} and status = 'queued'`;
    },

    /**
     * A claimed part of a pair paused since the tick queued it: pending and due now, so the tick,
     * which claims no part of a paused pair, claims it once the pair is resumed. Its checkpoint
     * and retry count stay; nothing of it ran.
     */
    async waitForResume(k: PartKey): Promise<void> {
      await sql`update sync_parts set status = 'pending', next_run_at = now() where ${where(sql, k)} and status = 'queued'`;
    },

    /** The environment configured `provider`: its connections' held parts are due now. */
    async releaseHeld(environmentId: string, provider: string): Promise<number> {
      const rows = await sql`
        update sync_parts p set next_run_at = now() from connections c
        where c.id = p.connection_id and c.environment_id = ${environmentId} and c.provider = ${provider}
          and p.status = 'pending' and p.next_run_at is null`;
      return rows.count;
    },

    async markRunning(tx: TransactionSql, k: PartKey, runId: string): Promise<void> {
      await tx`update sync_parts set status = 'running', run_id = ${runId}, run_while_paused = false where ${where(tx, k)}`;
    },

    async saveCheckpoint(tx: Db, k: PartKey, checkpoint: Record<string, unknown> | null): Promise<void> {
      await tx`update sync_parts set checkpoint = ${checkpoint === null ? null : JSON.stringify(checkpoint)}::text::jsonb where ${where(tx, k)}`;
    },

    /** A failed part keeps its checkpoint; a retry (if any) is due after the delay, else it waits for the pair's next run. */
    async recordFailure(k: PartKey, retry: { delayMs: number; countsAsAttempt: boolean } | null, tx: Db = sql): Promise<void> {
      await tx`
        update sync_parts set status = 'failed',
          retry_attempt = retry_attempt + ${retry?.countsAsAttempt ? 1 : 0},
          next_run_at = ${retry === null ? null : tx`now() + ${retry.delayMs} * interval '1 millisecond'`}
        where ${where(tx, k)}`;
    },

    /**
     * In the part's settling transaction: the part is done. The pair's state row is locked first
     * so two last parts settling at once see each other: exactly one learns the pass is complete.
     * True when every part of the pass has now succeeded (the caller then settles the pass).
     * False when this run's part row is gone or no longer its own (the pass's parts were removed,
     * or replaced by another pass's): "no part left" must then not read as "every part done",
     * which would move lastSyncDate and apply full-refresh deletes for a pass nobody completed.
     * (A split that lists no keys settles as a zero-part pass elsewhere: run-sync.ts emptyPass.)
     */
    async succeed(tx: TransactionSql, k: PartKey, runId: string): Promise<boolean> {
      await tx`select 1 from sync_state where ${ofPair(tx, k)} for update`;
      const mine = await tx`
        update sync_parts set status = 'succeeded', checkpoint = null, next_run_at = null
        where ${where(tx, k)} and run_id = ${runId} and status = 'running'`;
      if (mine.count === 0) return false;
      const [row] = await tx<{ left: number }[]>`select count(*)::int as left from sync_parts where ${ofPair(tx, k)} and status <> 'succeeded'`;
      return (row?.left ?? 0) === 0;
    },

    /** The pass succeeded: its parts are history (their runs stay). */
    async finish(tx: TransactionSql, pair: Omit<PartKey, 'part'>): Promise<void> {
      await tx`delete from sync_parts where ${ofPair(tx, pair)}`;
    },
  };
}
export type Parts = ReturnType<typeof createParts>;
