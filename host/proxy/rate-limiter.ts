/**
 * Rate limits shared by every process: token buckets kept in Postgres and taken in one atomic
 * upsert each. A negative balance is a reservation: the caller owes that many tokens and waits
 * until its slot instead of polling, so N processes together send at the bucket's rate. The
 * database clock is the only clock, so skew between machines does not matter.
 */
import type { Sql } from '../db/connect.ts';

export interface BucketSpec {
  key: string;
  /** Absent: the key only carries blocks (a provider's Retry-After), no rate of its own. */
  requestsPerSecond?: number;
  burst?: number;
}

export function createRateLimiter(sql: Sql) {
  async function take(bucket: BucketSpec): Promise<number> {
    if (bucket.requestsPerSecond === undefined) {
      const [row] = await sql<{ blocked_ms: number | null }[]>`
        select greatest(0, extract(epoch from (blocked_until - clock_timestamp())) * 1000)::float8 as blocked_ms
        from rate_limit_buckets where key = ${bucket.key}`;
      return row?.blocked_ms ?? 0;
    }
    const rate = bucket.requestsPerSecond;
    const burst = bucket.burst ?? 1;
    const tokensAfter = sql`least(${burst}::float8, b.tokens + extract(epoch from (clock_timestamp() - b.refilled_at))::float8 * ${rate}::float8) - 1`;
    // idle_at: when the rate has refilled the bucket to its burst (and any block is over); from then
    // on the row is no different from none, and maintenance may delete it.
    const [row] = await sql<{ tokens: number; blocked_ms: number | null }[]>`
      insert into rate_limit_buckets as b (key, tokens, refilled_at, idle_at)
      values (${bucket.key}, ${burst - 1}, clock_timestamp(), clock_timestamp() + interval '1 second' / ${rate}::float8)
      on conflict (key) do update set
        tokens = ${tokensAfter},
        refilled_at = clock_timestamp(),
        idle_at = greatest(b.blocked_until, clock_timestamp() + (${burst}::float8 - (${tokensAfter})) / ${rate}::float8 * interval '1 second')
      returning tokens, greatest(0, extract(epoch from (b.blocked_until - clock_timestamp())) * 1000)::float8 as blocked_ms`;
    const owed = row!.tokens < 0 ? (-row!.tokens / rate) * 1000 : 0;
    return Math.max(owed, row!.blocked_ms ?? 0);
  }

  return {
    /** Takes a token from every bucket; resolves with how long (ms) the caller must wait before sending. */
    async reserve(buckets: BucketSpec[]): Promise<number> {
      let wait = 0;
      for (const bucket of buckets) wait = Math.max(wait, await take(bucket));
      return Math.ceil(wait);
    },

    /** Gives tokens back (a caller that will not send after all); idle_at stays, later than it need be, never earlier. */
    async refund(buckets: BucketSpec[]): Promise<void> {
      for (const b of buckets) {
        if (b.requestsPerSecond !== undefined) await sql`update rate_limit_buckets set tokens = tokens + 1 where key = ${b.key}`;
      }
    },

    /** Nobody sends on these keys for `ms` (the provider said so: 429 Retry-After, remaining = 0). */
    async block(keys: string[], ms: number): Promise<void> {
      for (const key of keys) {
        await sql`
          insert into rate_limit_buckets as b (key, tokens, refilled_at, blocked_until, idle_at)
          values (${key}, 0, clock_timestamp(), clock_timestamp() + ${Math.ceil(ms)} * interval '1 millisecond', clock_timestamp() + ${Math.ceil(ms)} * interval '1 millisecond')
          on conflict (key) do update set
            blocked_until = greatest(coalesce(b.blocked_until, '-infinity'::timestamptz), excluded.blocked_until),
            idle_at = greatest(b.idle_at, excluded.blocked_until)`;
      }
    },
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;
