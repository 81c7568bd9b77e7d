-- How long a proxied call waited for the shared rate limits before it was sent (all attempts),
-- for /metrics' rate-limit waits per provider.
alter table run_calls add column rate_limit_wait_ms integer not null default 0;
