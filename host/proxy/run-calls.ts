/** The proxied calls of each run (method, path, status, duration, retries), for GET /runs/:id/calls. Never secrets. */
import type { Sql } from '../db/connect.ts';

export interface ProxyCallRecord {
  method: string;
  /** Path only: the query may carry an API key. */
  path: string;
  status: number | null;
  durationMs: number;
  retries: number;
  /** Time spent waiting for the shared rate limits before sending (all attempts). */
  rateLimitWaitMs?: number;
  error?: string;
}

export interface StoredCall extends ProxyCallRecord {
  id: string;
  at: Date;
}

export function createRunCalls(sql: Sql) {
  return {
    async record(runId: string, call: ProxyCallRecord): Promise<void> {
      await sql`
        insert into run_calls (run_id, method, path, status, duration_ms, retries, rate_limit_wait_ms, error)
        values (${runId}, ${call.method}, ${call.path}, ${call.status}, ${Math.round(call.durationMs)}, ${call.retries}, ${Math.round(call.rateLimitWaitMs ?? 0)}, ${call.error ?? null})`;
    },
    async list(runId: string, afterId: string, limit: number): Promise<StoredCall[]> {
      const rows = await sql<Array<{ id: string; method: string; path: string; status: number | null; duration_ms: number; retries: number; error: string | null; at: Date }>>`
        select id, method, path, status, duration_ms, retries, error, at from run_calls
        where run_id = ${runId} and id > ${afterId} order by id limit ${limit}`;
      return rows.map((r) => ({
        id: r.id, method: r.method, path: r.path, status: r.status, durationMs: r.duration_ms, retries: r.retries, at: r.at,
        ...(r.error !== null && { error: r.error }),
      }));
    },
  };
}
export type RunCalls = ReturnType<typeof createRunCalls>;
