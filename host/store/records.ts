/**
 * The record store: what scripts save (saveBatch) and what apps read by cursor (readPage,
 * readPageJson). Public entry of host/store/records-*.ts.
 */
import type { BatchResult } from '@ferry/runtime/contract';
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { Logger } from '../logger.ts';
import { modelsOfConnection, type ConnectionModels } from './records-models.ts';
import { readPage, readPageBody, readPageJson, streamPageBody, type PageBody, type ReadPageArgs, type RecordPage } from './records-read.ts';
import { saveBatch, type InsertMethod, type SaveBatchArgs } from './records-save.ts';

export { lockRecordModel, missingRecordReason, type InsertMethod, type SaveBatchArgs } from './records-save.ts';
export { MAX_PAGE_LIMIT, parseCursor, type FerryMetadata, type PageBody, type ReadErrorCode, type ReadPageArgs, type RecordAction, type RecordPage, type StoredRecord } from './records-read.ts';

export interface RecordStoreOptions {
  sql: Sql;
  logger: Logger;
  /** Embedded PGlite: COPY FROM STDIN closes its socket (the only connection), so never COPY there. */
  embedded: boolean;
  /**
   * How new rows are written. Default 'json' (one JSON-array text parameter). Since the host's
   * client turned Nagle's algorithm off (host/db/no-delay-socket.ts) COPY-via-staging no longer
   * stalls ~40 ms per batch, and bench/ingest measures the two within noise of each other (COPY
   * a few % less Postgres CPU per row); json stays the default because postgres.js never settles
   * a COPY the server fails after CopyDone (records-sql.ts), and a run stopped at its wall-time
   * limit cancels its statement. 'copy' is never used on embedded PGlite.
   */
  insertMethod?: InsertMethod;
}

export interface RecordStore {
  /** Applies one batch in one transaction (the caller's `tx` when given). */
  saveBatch(args: SaveBatchArgs, tx?: TransactionSql): Promise<BatchResult>;
  readPage(args: ReadPageArgs): Promise<RecordPage>;
  /** The exact `{"records":[…],"next_cursor":…}` response text, built in Postgres. */
  readPageJson(args: ReadPageArgs): Promise<{ body: string }>;
  /** The same response as bytes spliced from what Postgres sent. */
  readPageBody(args: ReadPageArgs): Promise<Buffer<ArrayBuffer>>;
  /** The same bytes, handed on as the rows arrive: what GET /records serves. */
  streamPageBody(args: ReadPageArgs): Promise<PageBody>;
  /** The models a connection has (declared by its provider's active scripts, or holding records), sorted. */
  modelsOf(connectionId: string): Promise<ConnectionModels>;
}

export function createRecordStore(options: RecordStoreOptions): RecordStore {
  const deps = {
    sql: options.sql,
    logger: options.logger.child({ module: 'record-store' }),
    insertMethod: options.embedded ? 'json' : (options.insertMethod ?? 'json'),
  } as const;
  return {
    saveBatch: (args, tx) => saveBatch(deps, args, tx),
    readPage: (args) => readPage(options.sql, args),
    readPageJson: (args) => readPageJson(options.sql, args),
    readPageBody: (args) => readPageBody(options.sql, args),
    streamPageBody: (args) => streamPageBody(options.sql, args),
    modelsOf: (connectionId) => modelsOfConnection(options.sql, connectionId),
  };
}
