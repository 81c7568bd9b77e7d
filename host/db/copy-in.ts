/**
 * COPY … FROM STDIN with postgres.js, settled whatever the server does.
 *
 * postgres.js 3.4.9 resolves the COPY query with its writable as soon as the server answers
 * CopyInResponse; the writable only finishes when CommandComplete arrives. When the server fails
 * the COPY after CopyDone (a constraint, a bad jsonb value, a trigger, a cancel that lands while
 * the last rows are processed), the ErrorResponse goes to the query's `reject` — a no-op on a
 * promise already resolved — and the writable never finishes: the caller hung with its
 * transaction open (https://github.com/porsager/postgres/issues/1173). An error before CopyDone
 * destroys the writable, which does settle.
 *
 * So the query's `reject` is wrapped before it runs: every error the connection reports for this
 * statement settles the copy. test/store/copy-in.test.ts pins both cases against real Postgres
 * (and fails if a postgres.js upgrade changes how errors reach the query).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TransactionSql } from './connect.ts';

interface RejectableQuery {
  reject?: (error: unknown) => void;
  writable(): Promise<NodeJS.WritableStream>;
}

/**
 * Sends `data` (COPY text format; an array is sent chunk by chunk, each chunk ending at a line's
 * end) as the data of `statement`; rejects with the server's error.
 */
export async function copyIn(tx: TransactionSql, statement: string, data: string | Array<string | Buffer>): Promise<void> {
  const query = tx.unsafe(statement) as unknown as RejectableQuery;
  let failed!: (error: unknown) => void;
  const failure = new Promise<never>((_, reject) => { failed = reject; });
  failure.catch(() => {});
  const reject = query.reject;
  if (typeof reject !== 'function') throw new Error('copyIn: this postgres.js query has no reject to wrap (postgres.js changed?)');
  query.reject = (error: unknown) => {
    failed(error);
    reject(error);
  };
  const writable = await Promise.race([query.writable(), failure]);
  const sent = pipeline(Readable.from(typeof data === 'string' ? [data] : data), writable);
  // After a failure the pipeline may still settle (or be destroyed) later: nobody awaits it then.
  sent.catch(() => {});
  await Promise.race([sent, failure]);
}
