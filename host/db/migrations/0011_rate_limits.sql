-- Token buckets shared by every process (per connection and per provider). A caller takes a
-- token in one atomic upsert; a negative balance is a reservation it waits out. blocked_until
-- records a provider's own "wait until" (429 Retry-After, remaining = 0) for everyone.
create table rate_limit_buckets (
  key            text primary key,
  tokens         double precision not null,
  refilled_at    timestamptz not null,
  blocked_until  timestamptz
);
