/**
 * pg-boss over our postgres.js client, so that pg-boss shares the process's one client —
 * required on embedded PGlite, where there is only one connection — and can enqueue inside our
 * transactions. Bun's SQL client copied postgres.js's interface (`unsafe`, `reserve`, simple
 * protocol for parameterless multi-statement scripts, one result array per statement), so
 * pg-boss's own Bun adapter fits postgres.js unchanged.
 *
 * pg-boss sends its SQL as text (`unsafe`), which postgres.js does not prepare: Postgres parsed
 * and planned the sync claim — a CTE of ~60 lines — on every claim, ~2.1 ms of its ~2.8 ms
 * (bench/scheduler's statement log, 1,000-pair burst). Its statements are therefore prepared
 * (named, per connection) once a text comes back (see preparedTexts), so each claim and each
 * job completion is a bind and an execute.
 */
import { fromBunSql, type Db } from 'pg-boss';
import type { Sql, TransactionSql } from '../db/connect.ts';

/**
 * Which texts to prepare: one seen before, up to MAX_PREPARED of them per process. A few of
 * pg-boss's statements embed ids or timestamps in their text; preparing only on a text's second
 * use keeps those one-offs out, and the caps bound both sides' statement caches.
 */
export const MAX_PREPARED = 64;
const MAX_SEEN_ONCE = 1_000;
const preparedTexts = new Set<string>();
let seenOnce = new Set<string>();

function shouldPrepare(text: string): boolean {
  if (preparedTexts.has(text)) return true;
  if (!seenOnce.has(text)) {
    if (seenOnce.size >= MAX_SEEN_ONCE) seenOnce = new Set();
    seenOnce.add(text);
    return false;
  }
  seenOnce.delete(text);
  if (preparedTexts.size >= MAX_PREPARED) return false;
  preparedTexts.add(text);
  return true;
}

type Unsafe = (text: string, values?: unknown[], options?: { prepare?: boolean }) => unknown;
type BunLike = Parameters<typeof fromBunSql>[0];

/** The client as fromBunSql sees it: `unsafe` with parameters prepares texts as above. */
function preparing(sql: Sql | TransactionSql): BunLike {
  const unsafe = sql.unsafe.bind(sql) as unknown as Unsafe;
  const client = Object.create(sql) as Record<string, unknown>;
  client.unsafe = (text: string, values?: unknown[]) =>
    values && values.length > 0 ? unsafe(text, values, { prepare: shouldPrepare(text) }) : unsafe(text);
  const reserve = (sql as { reserve?: () => Promise<Sql> }).reserve;
  if (reserve) client.reserve = async () => {
    const reserved = await reserve.call(sql);
    return Object.assign(preparing(reserved), { release: () => (reserved as unknown as { release(): void }).release() });
  };
  return client as unknown as BunLike;
}

export function pgBossDb(sql: Sql | TransactionSql): Db {
  return fromBunSql(preparing(sql));
}
