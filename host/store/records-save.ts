/**
 * saveBatch: applies one RecordBatch (save / update / delete) to `records` in one transaction.
 *
 * Cursor promise. A reader pages with `cursor > last seen` and must never miss a change. Cursors
 * come from one sequence, but a sequence value is drawn when a row is written, not when its
 * transaction commits: if writer A draws 10 and stays open while writer B draws 11 and commits,
 * a reader can see 11, move its cursor past 10, and never see A's row once A commits. So every
 * writer of a (connection_id, model) first takes a transaction-scoped advisory lock on that pair
 * (LOCK_MODEL) and keeps it until commit: cursors of one pair are then drawn and committed in the
 * same order, and anything a reader sees is preceded by everything that will ever exist below it
 * for that pair. (Postgres releases the lock only after the commit is visible to new snapshots.)
 * Other pairs are not blocked. Any other code that moves record cursors (e.g. a full refresh
 * marking unseen records deleted) must take the same lock: use `lockRecordModel`.
 *
 * Speed. Stored hashes for the batch's ids are read first (under the lock, so nothing changes
 * them before the write) and only new or changed rows are sent: a re-sync of unchanged data
 * writes nothing. New rows go in with one binary COPY straight into records ('copy', the default on a
 * Postgres server) or as one JSON-array text parameter ('json', the only one on embedded PGlite);
 * changed rows with one UPDATE over a JSON array, probing the primary key per id.
 * The lock and the first lookup are pipelined, so an unchanged batch costs ~2 round trips.
 */
import type { BatchResult, RecordBatch } from '@ferry/runtime/contract';
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import { copyEncodedRows, copyNewRows, encodeCopyRows } from './records-copy.ts';
import { ADD_WRITER, INSERT_NEW, INSERT_REJECTED, LOCK_MODEL, LOOKUP_HASHES, MARK_DELETED, MERGE_PATCHES, UPDATE_CHANGED } from './records-sql.ts';

export type InsertMethod = 'copy' | 'json';

export interface SaveBatchArgs {
  connectionId: string | number | bigint;
  /** Defaults to batch.model; when both are given they must agree. */
  model?: string;
  batch: RecordBatch;
  runId?: string | number | bigint | null;
  /** The sync writing the batch: it joins the writers of every record it saves (null: no sync). */
  writer?: string | null;
  /** From prepareNewRows with the same arguments: used when every row of the batch is new. */
  prepared?: PreparedNewRows | null;
}

/**
 * A save batch's rows already encoded as COPY lines, made before its transaction (while the
 * previous batch is written) so the write does not wait for the encoding. Used only when the
 * lookup finds every row new; otherwise the new ones are encoded again.
 */
export interface PreparedNewRows {
  readonly records: RecordBatch['records'];
  readonly chunks: Buffer[];
}

export interface SaveDeps {
  sql: Sql;
  logger: Logger;
  insertMethod: InsertMethod;
}

type Row = RecordBatch['records'][number];
type Rejection = RecordBatch['rejected'][number];

interface Target {
  connectionId: string;
  model: string;
  runId: string | null;
  writer: string | null;
}

const UNPREPARED = { prepare: false } as const;

export function missingRecordReason(id: string, model: string): string {
  return `record ${id} does not exist in ${model}; use batchSave to create it`;
}

/** Serialises cursor-drawing writers of one (connection, model) until the transaction ends. */
export async function lockRecordModel(tx: TransactionSql, connectionId: string | number | bigint, model: string): Promise<void> {
  await tx.unsafe(LOCK_MODEL, [String(connectionId), model], UNPREPARED);
}

export async function saveBatch(deps: SaveDeps, args: SaveBatchArgs, tx?: TransactionSql): Promise<BatchResult> {
  if (args.model !== undefined && args.model !== args.batch.model) {
    throw Object.assign(new Error(`saveBatch: model ${args.model} does not match the batch's model ${args.batch.model}`), { code: 'MODEL_MISMATCH' });
  }
  const target: Target = {
    connectionId: String(args.connectionId),
    model: args.batch.model,
    runId: args.runId === undefined || args.runId === null ? null : String(args.runId),
    writer: args.writer ?? null,
  };
  const started = performance.now();
  const prepared = args.prepared && args.prepared.records === args.batch.records ? args.prepared : null;
  const run = (t: TransactionSql) => applyBatch(deps, t, target, args.batch, prepared);
  const result = tx ? await run(tx) : await deps.sql.begin(run);
  deps.logger.debug({ ...target, op: args.batch.op, ...result, ms: Math.round(performance.now() - started) }, 'batch saved');
  return result;
}

/**
 * The batch's rows encoded for COPY, for saveBatch's `prepared`; null when new rows do not go
 * by COPY (or a row cannot be encoded: the write then fails with the reason, as without it).
 */
export function prepareNewRows(deps: SaveDeps, args: SaveBatchArgs): PreparedNewRows | null {
  if (deps.insertMethod !== 'copy' || args.batch.op !== 'save' || args.batch.records.length === 0) return null;
  try {
    const runId = args.runId === undefined || args.runId === null ? null : String(args.runId);
    return { records: args.batch.records, chunks: encodeCopyRows(String(args.connectionId), args.model ?? args.batch.model, runId, args.writer ?? null, args.batch.records) };
  } catch {
    return null;
  }
}

async function applyBatch(deps: SaveDeps, tx: TransactionSql, target: Target, batch: RecordBatch, prepared: PreparedNewRows | null): Promise<BatchResult> {
  const result: BatchResult = { added: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 0 };
  const rejections: Rejection[] = [...batch.rejected];
  // Not awaited: postgres.js pipelines these with the statements that follow (one round trip);
  // Postgres still runs them in order, so nothing is read or written before the lock is held.
  // If one fails, the next statement fails with "transaction is aborted": report the cause.
  let pipelineError: unknown;
  const pipelined: Promise<unknown>[] = [lockRecordModel(tx, target.connectionId, target.model)];
  for (const p of pipelined) p.catch((error: unknown) => { pipelineError ??= error; });
  try {
    const { rows, superseded } = collapseRepeatedIds(batch.records, batch.op);
    result.unchanged += superseded;
    if (batch.op === 'save') await saveRound(deps, tx, target, rows, result, rows === batch.records ? prepared : null);
    else if (batch.op === 'update') await updateRound(tx, target, rows, result, rejections);
    else await deleteRound(tx, target, rows, result);
    await Promise.all(pipelined);
  } catch (error) {
    throw pipelineError ?? error;
  }
  if (rejections.length > 0) {
    const rows = rejections.map((r) => ({ i: r.id, r: r.reason }));
    await tx.unsafe(INSERT_REJECTED, [target.connectionId, target.model, JSON.stringify(rows), target.runId], UNPREPARED);
  }
  result.rejected = rejections.length;
  return result;
}

/**
 * An id named more than once in one batch becomes one row, so a batch is one round of statements
 * whatever it repeats (150,000 copies of one id were 150,000 rounds): a save or delete keeps the
 * last copy, an update merges its patches in order — `data || p1 || p2` is `data || (p1 || p2)`,
 * so the result is what applying them one by one gave. Superseded copies count as unchanged.
 */
export function collapseRepeatedIds(records: Row[], op: RecordBatch['op']): { rows: Row[]; superseded: number } {
  const copies = new Map<string, Row[]>();
  for (const record of records) {
    const list = copies.get(record.id);
    if (list) list.push(record);
    else copies.set(record.id, [record]);
  }
  if (copies.size === records.length) return { rows: records, superseded: 0 };
  const rows = [...copies.values()].map((list) => (list.length === 1 ? list[0]! : op === 'update' ? mergedPatch(list) : list[list.length - 1]!));
  return { rows, superseded: records.length - rows.length };
}

function mergedPatch(patches: Row[]): Row {
  // A null-prototype target keeps a "__proto__" key a plain data key, as jsonb has it.
  const merged: Record<string, unknown> = Object.create(null);
  for (const patch of patches) Object.assign(merged, JSON.parse(patch.json));
  const last = patches[patches.length - 1]!;
  return { id: last.id, json: JSON.stringify(merged), hash: last.hash };
}

async function lookupStored(tx: TransactionSql, target: Target, rows: Row[]) {
  const stored = await tx.unsafe<{ id: string; hash: string; deleted: boolean; owned: boolean }[]>(
    LOOKUP_HASHES,
    [target.connectionId, target.model, idsToJsonArray(rows), target.writer],
    UNPREPARED,
  );
  return new Map(stored.map((s) => [s.id, s]));
}

const idsToJsonArray = (rows: Row[]) => JSON.stringify(rows.map((r) => r.id));

/** `{"i":id,"h":hash,"d":<record JSON as is>}`: the record text is spliced in, never re-encoded. */
function rowsToJsonArray(rows: Row[], withHash: boolean): string {
  const parts = rows.map((r) => `{"i":${JSON.stringify(r.id)},${withHash ? `"h":${JSON.stringify(r.hash)},` : ''}"d":${r.json}}`);
  return `[${parts.join(',')}]`;
}

async function saveRound(deps: SaveDeps, tx: TransactionSql, target: Target, rows: Row[], result: BatchResult, prepared: PreparedNewRows | null): Promise<void> {
  const stored = await lookupStored(tx, target, rows);
  const fresh: Row[] = [];
  const changed: Row[] = [];
  const unowned: Row[] = [];
  for (const row of rows) {
    const existing = stored.get(row.id);
    if (!existing) fresh.push(row);
    else if (existing.deleted || existing.hash !== row.hash) changed.push(row);
    else {
      result.unchanged++;
      if (!existing.owned) unowned.push(row);
    }
  }
  if (unowned.length > 0) await tx.unsafe(ADD_WRITER, [target.connectionId, target.model, idsToJsonArray(unowned), target.writer], UNPREPARED);
  if (fresh.length > 0) {
    if (deps.insertMethod === 'copy' && prepared && fresh.length === rows.length) await copyEncodedRows(tx, prepared.chunks);
    else if (deps.insertMethod === 'copy') await copyNewRows(tx, target.connectionId, target.model, target.runId, target.writer, fresh);
    else await tx.unsafe(INSERT_NEW, [target.connectionId, target.model, rowsToJsonArray(fresh, true), target.runId, target.writer], UNPREPARED);
    result.added += fresh.length;
  }
  if (changed.length > 0) {
    const [counts] = await tx.unsafe<{ updated: number; rehashed: number }[]>(
      UPDATE_CHANGED,
      [target.connectionId, target.model, rowsToJsonArray(changed, true), target.runId, target.writer],
      UNPREPARED,
    );
    const updated = counts?.updated ?? 0;
    result.updated += updated;
    result.unchanged += changed.length - updated;
  }
}

/**
 * batchUpdate merges a partial record into a live stored one. Updating a record that does not
 * exist (never saved, or deleted) is defined as a rejection with the reason
 * "record <id> does not exist in <model>; use batchSave to create it": a partial record cannot
 * create a row, and silently dropping it would hide a script bug.
 */
async function updateRound(tx: TransactionSql, target: Target, rows: Row[], result: BatchResult, rejections: Rejection[]): Promise<void> {
  const stored = await lookupStored(tx, target, rows);
  const live: Row[] = [];
  for (const row of rows) {
    const existing = stored.get(row.id);
    if (existing && !existing.deleted) live.push(row);
    else rejections.push({ id: row.id, reason: missingRecordReason(row.id, target.model) });
  }
  if (live.length === 0) return;
  const [counts] = await tx.unsafe<{ updated: number }[]>(
    MERGE_PATCHES,
    [target.connectionId, target.model, rowsToJsonArray(live, false), target.runId],
    UNPREPARED,
  );
  const updated = counts?.updated ?? 0;
  result.updated += updated;
  result.unchanged += live.length - updated;
}

/** Deleting a missing or already deleted record is a no-op, counted as unchanged. */
async function deleteRound(tx: TransactionSql, target: Target, rows: Row[], result: BatchResult): Promise<void> {
  const [counts] = await tx.unsafe<{ deleted: number }[]>(
    MARK_DELETED,
    [target.connectionId, target.model, idsToJsonArray(rows), target.runId],
    UNPREPARED,
  );
  const deleted = counts?.deleted ?? 0;
  result.deleted += deleted;
  result.unchanged += rows.length - deleted;
}
