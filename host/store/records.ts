/**
 * The record store: what scripts save (saveBatch) and what apps read by cursor (readPage,
 * readPageJson). Public entry of host/store/records-*.ts.
 */
import type { BatchResult } from '@ferry/runtime/contract';
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import { modelsOfConnection, type ConnectionModels } from './records-models.ts';
import { pageCursors, readPage, readPageBody, readPageJson, streamPageBody, type PageBody, type ReadPageArgs, type RecordPage } from './records-read.ts';
import { prepareNewRows, saveBatch, type InsertMethod, type PreparedNewRows, type SaveBatchArgs } from './records-save.ts';

export { lockRecordModel, missingRecordReason, type InsertMethod, type PreparedNewRows, type SaveBatchArgs } from './records-save.ts';
export { MAX_PAGE_LIMIT, parseCursor, releasePageChunk, type FerryMetadata, type PageBody, type PageEnd, type ReadErrorCode, type ReadPageArgs, type RecordAction, type RecordPage, type StoredRecord } from './records-read.ts';

export interface RecordStoreOptions {
  sql: Sql;
  logger: Logger;
  /** Embedded PGlite: COPY FROM STDIN closes its socket (the only connection), so never COPY there. */
  embedded: boolean;
  /**
   * How new rows are written. Default 'copy' (one COPY straight into records): bench/ingest
   * measured it at 13.7 ms of Postgres CPU per 1,000 new rows against 19.9 for 'json' (one
   * JSON-array text parameter) and 11.7 for a bare COPY. COPY errors and a cancel at the run's
   * end settle through host/db/copy-in.ts. Embedded PGlite always uses 'json'.
   */
  insertMethod?: InsertMethod;
}

export interface RecordStore {
  /** Applies one batch in one transaction (the caller's `tx` when given). */
  saveBatch(args: SaveBatchArgs, tx?: TransactionSql): Promise<BatchResult>;
  /** A save batch's rows encoded ahead of its write (records-save.ts), or null. */
  prepareNewRows(args: SaveBatchArgs): PreparedNewRows | null;
  readPage(args: ReadPageArgs): Promise<RecordPage>;
  /** The exact `{"records":[…],"next_cursor":…}` response text, built in Postgres. */
  readPageJson(args: ReadPageArgs): Promise<{ body: string }>;
  /** The same response as bytes spliced from what Postgres sent. */
  readPageBody(args: ReadPageArgs): Promise<Buffer<ArrayBuffer>>;
  /** The same bytes, handed on as the rows arrive: what GET /records serves. Aborting `signal` cancels the query. */
  streamPageBody(args: ReadPageArgs, signal?: AbortSignal): Promise<PageBody>;
  /** The cursors of the page `args` reads, as of now (`c1,c2,…`; '' for none): equal to a built page's `ended.cursors` when that page is unchanged. */
  pageCursors(args: ReadPageArgs): Promise<string>;
  /** The models a connection has (declared by its provider's active scripts, or holding records), sorted. */
  modelsOf(connectionId: string): Promise<ConnectionModels>;
}

export function createRecordStore(options: RecordStoreOptions): RecordStore {
  const deps = {
    sql: options.sql,
    logger: options.logger.child({ module: 'record-store' }),
    insertMethod: options.embedded ? 'json' : (options.insertMethod ?? 'copy'),
  } as const;
  return {
    saveBatch: (args, tx) => saveBatch(deps, args, tx),
    prepareNewRows: (args) => prepareNewRows(deps, args),
    readPage: (args) => readPage(options.sql, args),
    readPageJson: (args) => readPageJson(options.sql, args),
    readPageBody: (args) => readPageBody(options.sql, args),
    streamPageBody: (args, signal) => streamPageBody(options.sql, args, deps.logger, signal),
    pageCursors: (args) => pageCursors(options.sql, args),
    modelsOf: (connectionId) => modelsOfConnection(options.sql, connectionId),
  };
}
