/**
 * The host side of one run's bridge: what a script's batchSave, proxy calls, logs, metadata
 * and checkpoints do. Built per run so nothing of one run is reachable from another.
 */
import type { BatchResult, HostBridge, LogEntry, RecordBatch } from '@ferry/runtime/contract';
import type { Sql, TransactionSql } from '../db/connect.ts';
import { ReauthRequiredError, type ConnectionRow, type Connections } from '../connections/connections.ts';
import type { Provider } from '../connections/providers.ts';
import type { Logger } from '../logger.ts';
import type { ScriptRow } from '../deploy/scripts.ts';
import type { Proxy, ProxyCallRecord } from '../proxy/proxy.ts';
import type { PreparedNewRows } from '../store/records.ts';
import { isTransientDatabaseError, retryTransient } from '../db/transient.ts';
import { fencedWrite, isRunFenced } from '../runs/run-fence.ts';
import { locateLogStacks } from '../runs/source-locations.ts';
import type { RunWarning, Runs } from '../runs/runs.ts';
import { clearSeen, recordSeen, settleUnseen, type MassDeleteGuard, type UnseenOutcome } from '../store/records-deletes.ts';
import { readPage } from '../store/records-read.ts';
import type { SyncState } from '../sync/sync-state.ts';
import type { Parts } from './parts.ts';
import { createRunTransactions } from './run-transactions.ts';
import { BASE_VARIANT, storedModel } from './variants.ts';

/** The record store as the bridge needs it (host/store implements it). */
export interface RecordWriter {
  saveBatch(args: RecordWriteArgs & { prepared?: PreparedNewRows | null }, tx?: TransactionSql): Promise<BatchResult>;
  /** Encodes a save batch's rows ahead of its write (host/store/records-save.ts); absent or null: no encoding ahead. */
  prepareNewRows?(args: RecordWriteArgs): PreparedNewRows | null;
}

interface RecordWriteArgs { connectionId: string; model: string; batch: RecordBatch; runId?: string; writer?: string | null }

export interface RunBridgeDeps {
  sql: Sql;
  records: RecordWriter;
  runs: Runs;
  connections: Connections;
  syncState: SyncState;
  parts: Parts;
  proxy: Proxy;
  logger: Logger;
}

export interface RunBridgeScope {
  runId: string;
  /** The script version running: a log line holding a stack (a logged Error) is mapped through its source map. */
  script?: Pick<ScriptRow, 'id' | 'hash'>;
  connection: ConnectionRow;
  provider: Provider;
  /** Models the script declared; saving any other is refused. Empty for actions that may not write. */
  models: readonly string[];
  syncName: string | null;
  /** The sync's variant whose records and state these are (variants.ts); default 'base'. */
  variant?: string;
  /** A part of a split pass (parts.ts): its checkpoint is the part's, not the pair's. */
  part?: string;
  /** The sync whose records these are (a sync's own runs and its onWebhook runs); default syncName. */
  writer?: string | null;
  /** Deletes past this are held for review (records-deletes.ts). */
  massDeleteGuard?: MassDeleteGuard | undefined;
  /** The pass saves seen ids for full-refresh delete detection. */
  tracksFullDeletes?: boolean;
  /** Started from a saved checkpoint: trackDeletesStart continues the open window. */
  resumed?: boolean;
  startCheckpoint?: Record<string, unknown> | null;
}

/** What a run changed per model (for the app's webhook). */
export type ModelCounts = Map<string, { added: number; updated: number; deleted: number }>;

export interface RunBridge extends HostBridge {
  /** Aborted when a write found the run settled by another process (fenced): stop the script. */
  readonly signal: AbortSignal;
  /** True once a write was fenced: this process lost the run and must not settle it. */
  readonly fenced: boolean;
  /** The first bridge call that failed on a lost database connection: the run's fault is the host's, not the script's. */
  hostFault(): Error | null;
  /** The first proxied call refused because the connection needs re-authorisation: a script that wrapped it still failed on it. */
  reauthRequired(): ReauthRequiredError | null;
  /** Resolves when every pending record write and log line is stored; the failed write, if any. */
  flush(): Promise<Error | null>;
  /** The run ended: cancel its in-flight record writes (rolled back) and refuse further ones. */
  abort(reason: Error): void;
  readonly calls: ProxyCallRecord[];
  readonly modelCounts: ModelCounts;
  /** Warnings the run finishes with (deletes held by the mass-delete guard). */
  readonly warnings: RunWarning[];
  /** Counts what ending a delete-detecting walk of `model` did, and warns when it was held. */
  noteUnseen(model: string, outcome: UnseenOutcome): void;
  /** Called at the start of each attempt of the settling transaction: forgets what an earlier, rolled-back attempt noted. */
  resetUnseen(): void;
}

export function createRunBridge(bridgeDeps: RunBridgeDeps, scope: RunBridgeScope): RunBridge {
  const transactions = createRunTransactions(bridgeDeps.sql);
  const deps: RunBridgeDeps = { ...bridgeDeps, sql: transactions.sql };
  let logSeq = 0;
  let logWrites: Promise<void> = Promise.resolve();
  const calls: ProxyCallRecord[] = [];
  const target = { provider: scope.provider, connection: scope.connection };
  const modelCounts: ModelCounts = new Map();
  const openWindows = new Set<string>();
  const warnings: RunWarning[] = [];
  const writer = scope.writer === undefined ? scope.syncName : scope.writer;
  const variant = scope.variant ?? BASE_VARIANT;
  // Where a declared model's records of this variant are stored: the script only ever names the declared model.
  const stored = (model: string) => storedModel(model, variant);
  const lost = new AbortController();
  // Every write of the run goes through the fence (host/runs/run-fence.ts); the first refused
  // one aborts the script: a process that lost its run stops quietly.
  // A transaction lost to a dropped connection is tried again (the fence makes a repeat after an
  // unseen commit harmless), except where `once` says a repeat would not be.
  let fault: unknown = null;
  let reauth: ReauthRequiredError | null = null;
  const fenced = <T>(fn: (tx: TransactionSql) => Promise<T>, options: { once?: boolean } = {}): Promise<T> => {
    const attempt = () => fencedWrite(deps.sql, scope.runId, fn);
    return (options.once ? attempt() : retryTransient(attempt)).catch((err: unknown) => {
      if (isRunFenced(err)) {
        if (!lost.signal.aborted) {
          deps.logger.warn({ runId: scope.runId }, 'run fenced: another process settled it, so this process writes nothing more for it');
          lost.abort(err);
        }
      } else if (isTransientDatabaseError(err)) {
        fault ??= err;
      }
      throw err;
    });
  };
  const count = (model: string, c: { added?: number; updated?: number; deleted?: number }) => {
    const m = modelCounts.get(model) ?? { added: 0, updated: 0, deleted: 0 };
    m.added += c.added ?? 0;
    m.updated += c.updated ?? 0;
    m.deleted += c.deleted ?? 0;
    modelCounts.set(model, m);
  };

  let writes: Promise<void> = Promise.resolve();
  let writeError: unknown = null;
  const throwIfWriteFailed = () => {
    if (writeError) throw writeError instanceof Error ? writeError : new Error(String(writeError));
  };
  const recordsWritten = async () => {
    await writes;
    throwIfWriteFailed();
  };

  // Records and the run's counts commit together, so counts always match what is stored.
  // Models whose last batch was all new rows: their next save batch is encoded for COPY on
  // arrival, while the batch before it is still being written (a first sync's every batch).
  const allNew = new Set<string>();
  // `storedBatch` is `batch` under its stored model name (variants.ts).
  // The model's counts move once the batch has committed: a transaction retried after a lost
  // connection would otherwise count the batch twice (in the webhook and runs.model_counts).
  const writeBatch = async (batch: RecordBatch, storedBatch: RecordBatch, prepared: PreparedNewRows | null) => count(batch.model, await fenced(async (tx) => {
    const model = storedBatch.model;
    const result = await deps.records.saveBatch({ connectionId: scope.connection.id, model, batch: storedBatch, runId: scope.runId, writer, prepared }, tx);
    if (batch.op === 'save' && result.added === batch.records.length) allNew.add(batch.model);
    else allNew.delete(batch.model);
    if (scope.syncName && batch.op !== 'delete' && (scope.tracksFullDeletes || openWindows.has(batch.model))) {
      const ids = batch.records.map((r) => r.id);
      const seen = { connectionId: scope.connection.id, syncName: scope.syncName, model };
      if (scope.tracksFullDeletes) await recordSeen(tx, { ...seen, scope: 'full' }, ids);
      if (openWindows.has(batch.model)) await recordSeen(tx, { ...seen, scope: 'track' }, ids);
    }
    await tx`
      update runs set added = added + ${result.added}, updated = updated + ${result.updated},
        unchanged = unchanged + ${result.unchanged}, deleted = deleted + ${result.deleted},
        rejected = rejected + ${result.rejected}
      where id = ${scope.runId}`;
    return result;
  }));

  const noteUnseen = (model: string, outcome: UnseenOutcome) => {
    count(model, { deleted: outcome.deleted });
    if (outcome.held === 0) return;
    warnings.push({
      code: 'DELETES_HELD', model, held: outcome.held, live: outcome.live,
      message: `${outcome.held} of ${outcome.live} live ${model} records were not seen and are held, not deleted (mass-delete guard): apply or discard them with POST /syncs/${scope.syncName}/held-deletes/apply|discard${variant === BASE_VARIANT ? '' : ` (variant "${variant}")`} or ferry held-deletes`,
    });
  };

  let beforeSettle: { counts: Array<[string, { added: number; updated: number; deleted: number }]>; warnings: number } | null = null;
  const resetUnseen = () => {
    if (beforeSettle === null) {
      beforeSettle = { counts: [...modelCounts].map(([m, c]) => [m, { ...c }]), warnings: warnings.length };
      return;
    }
    modelCounts.clear();
    for (const [m, c] of beforeSettle.counts) modelCounts.set(m, { ...c });
    warnings.length = beforeSettle.warnings;
  };

  return {
    // The store reads a batch's record bytes as they crossed from the worker (packed-records.ts).
    packedRows: true,
    calls,
    modelCounts,
    warnings,
    resetUnseen,
    signal: lost.signal,
    reauthRequired: () => reauth,
    hostFault: () => (fault === null ? null : fault instanceof Error ? fault : new Error(String(fault))),
    get fenced() {
      return lost.signal.aborted;
    },
    noteUnseen,
    /**
     * Batches are written one behind the script: a call returns once the previous batch is
     * committed, so the script builds page N+1 while page N is written (two pages in memory at
     * most). Calls that must follow the records (checkpoints, delete windows, settling the run)
     * wait for every pending write first, and a failed write fails the next call and the run.
     */
    async saveRecords(batch) {
      if (!scope.models.includes(batch.model)) {
        throw new Error(`unknown model "${batch.model}": this script declares ${scope.models.map((m) => `"${m}"`).join(', ') || 'no models'}`);
      }
      const storedBatch = { ...batch, model: stored(batch.model) };
      const prepared = allNew.has(batch.model) && batch.op === 'save'
        ? deps.records.prepareNewRows?.({ connectionId: scope.connection.id, model: storedBatch.model, batch: storedBatch, runId: scope.runId, writer }) ?? null
        : null;
      const previous = writes;
      writes = previous.then(() => (writeError ? undefined : writeBatch(batch, storedBatch, prepared).catch((err: unknown) => { writeError = err; })));
      await previous;
      throwIfWriteFailed();
      // The counts land on the run row; the script only learns that its batch was accepted.
      return { added: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 0 };
    },

    proxy: (request) => deps.proxy.request(target, request, { runId: scope.runId, onCall: (call) => calls.push(call) }).catch((err: unknown) => {
      if (err instanceof ReauthRequiredError) reauth ??= err;
      // The proxy reads credentials and rate-limit buckets from Postgres: losing it there is the
      // host's fault (a provider's own network errors arrive as ProxyError PROVIDER_UNREACHABLE).
      else if (isTransientDatabaseError(err)) fault ??= err;
      throw err;
    }),

    log(entries: LogEntry[]) {
      const first = logSeq;
      logSeq += entries.length;
      logWrites = logWrites
        .then(async () => {
          if (lost.signal.aborted) return;
          // Read through the plain connection: the run's abortable one is for its writes.
          const stored = scope.script ? await locateLogStacks(bridgeDeps, scope.script, entries) : entries;
          await fenced((tx) => deps.runs.appendLogs(scope.runId, first, stored, tx));
        })
        .catch((err) => {
          if (!isRunFenced(err)) deps.logger.error({ err, runId: scope.runId }, 'storing run logs failed');
        });
    },

    async flush() {
      await writes;
      await logWrites;
      return writeError instanceof Error ? writeError : writeError ? new Error(String(writeError)) : null;
    },

    abort: (reason) => transactions.abort(reason),

    async getMetadata() {
      try {
        const row = await retryTransient(() => deps.connections.getById(scope.connection.id));
        return row?.metadata ?? {};
      } catch (err) {
        if (isTransientDatabaseError(err)) fault ??= err;
        throw err;
      }
    },

    setMetadata: (metadata, merge) => fenced((tx) => deps.connections.setMetadata(scope.connection.id, metadata, merge, tx)),

    async saveCheckpoint(checkpoint) {
      if (!scope.syncName) throw new Error('checkpoints belong to syncs; an action or webhook run has none');
      // A checkpoint says "everything before this is saved": never ahead of the records.
      await recordsWritten();
      const advanced = JSON.stringify(checkpoint) !== JSON.stringify(scope.startCheckpoint ?? null);
      await fenced(async (tx) => {
        if (scope.part !== undefined) await deps.parts.saveCheckpoint(tx, { connectionId: scope.connection.id, syncName: scope.syncName!, variant, part: scope.part }, checkpoint);
        else await deps.syncState.saveCheckpoint(scope.connection.id, scope.syncName!, variant, checkpoint, tx);
        if (advanced) await tx`update runs set checkpoint_advanced = true where id = ${scope.runId}`;
      });
    },

    async trackDeletes(model, phase) {
      if (!scope.syncName) throw new Error('trackDeletesStart/End belong to syncs');
      if (!scope.models.includes(model)) throw new Error(`unknown model "${model}"`);
      await recordsWritten();
      const seen = { connectionId: scope.connection.id, syncName: scope.syncName, scope: 'track' as const, model: stored(model) };
      if (phase === 'start') {
        // A resumed run continues the window its predecessor opened (the ids it saw are kept).
        if (!scope.resumed) await fenced((tx) => clearSeen(tx, seen));
        openWindows.add(model);
        return;
      }
      if (!openWindows.has(model)) throw new Error(`trackDeletesEnd("${model}") without trackDeletesStart("${model}")`);
      openWindows.delete(model);
      // Once: had a lost commit gone through, a repeat would find the window's seen ids gone.
      const outcome = await fenced(async (tx) => {
        const o = await settleUnseen(tx, seen, scope.runId, scope.massDeleteGuard);
        await tx`update runs set deleted = deleted + ${o.deleted} where id = ${scope.runId}`;
        return o;
      }, { once: true });
      noteUnseen(model, outcome);
    },

    async listRecords(model, cursor, limit) {
      if (!scope.syncName) throw new Error('listRecords belongs to syncs');
      if (!scope.models.includes(model)) throw new Error(`unknown model "${model}"`);
      // This run's own saves are read back too (as in Nango): they are written first.
      await recordsWritten();
      // Unfiltered, so a page of deleted rows is not mistaken for the end.
      const page = await retryTransient(() => readPage(deps.sql, { connectionId: scope.connection.id, model: stored(model), cursor, limit }));
      const records = page.records.filter((r) => r._ferry_metadata.deleted_at === null).map(({ _ferry_metadata: _metadata, ...record }) => record);
      return { records, next: page.records.length < limit ? null : page.next_cursor };
    },
  };
}
