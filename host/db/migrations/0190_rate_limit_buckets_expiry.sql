-- When a bucket says nothing any more that a missing row would not: its rate has refilled it to
-- its burst and no block is in force. Written with every take and block; maintenance deletes rows
-- past it (host/proxy/rate-limit-prune.ts), so buckets keyed by connection or by sign-in address
-- do not pile up for ever. Null on rows written before this column: pruned by refilled_at age.
alter table rate_limit_buckets add column idle_at timestamptz;
create index rate_limit_buckets_idle on rate_limit_buckets (idle_at);
