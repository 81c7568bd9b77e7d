/**
 * The one Postgres client of a process. With DATABASE_URL it is a pool on that server; without
 * it, an embedded PGlite served over a local socket to a single postgres.js connection (PGlite
 * is single-connection: a second client would receive another's parameters).
 */
import postgres from '@ferry/postgres';
import type { Logger } from '../logger.ts';
import { noDelaySocketFactory } from './no-delay-socket.ts';

export type Sql = postgres.Sql<{}>;
export type TransactionSql = postgres.TransactionSql<{}>;
export type Row = postgres.Row;

export interface Database {
  sql: Sql;
  /** True when running on the embedded PGlite (one connection for everything). */
  embedded: boolean;
  url: string;
  close(): Promise<void>;
}

export interface ConnectOptions {
  databaseUrl?: string | undefined;
  /** Folder for the embedded database's files (used only without databaseUrl). */
  dataDir?: string;
  maxConnections?: number;
  logger: Logger;
}

export async function connectDatabase(options: ConnectOptions): Promise<Database> {
  if (options.databaseUrl) {
    const sql = createClient(options.databaseUrl, options.maxConnections ?? 10);
    await sql`select 1`;
    return { sql, embedded: false, url: options.databaseUrl, close: () => sql.end({ timeout: 5 }) };
  }
  return connectEmbedded(options.dataDir ?? '.ferry/pgdata', options.logger);
}

function createClient(url: string, max: number): Sql {
  // postgres.js supports `socket` (a factory) but does not type it; its type promises a
  // connected socket, a connecting one works the same (no-delay-socket.ts).
  const socket = { socket: noDelaySocketFactory() } as {};
  return postgres(url, {
    ...socket,
    max,
    onnotice: () => {},
    // bigint columns (cursors, ids) stay postgres.js's default, strings: JS numbers would
    // silently round them, and BigInt does not survive JSON.
    connection: { application_name: 'ferry' },
  }) as unknown as Sql;
}

async function connectEmbedded(dataDir: string, logger: Logger): Promise<Database> {
  const [{ PGlite }, { PGLiteSocketServer }, { mkdir }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket'),
    import('node:fs/promises'),
  ]);
  await mkdir(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
  await server.start();
  const url = `postgres://postgres@${server.getServerConn()}/postgres`;
  const sql = postgres(url, { max: 1, onnotice: () => {}, idle_timeout: 0 }) as unknown as Sql;
  await sql`select 1`;
  logger.info({ dataDir }, 'embedded PGlite started (set DATABASE_URL to use a real Postgres)');
  return {
    sql,
    embedded: true,
    url,
    async close() {
      await sql.end({ timeout: 5 });
      await server.stop();
      await db.close();
    },
  };
}
