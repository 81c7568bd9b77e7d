-- Every proxied request of a run: what it asked (method, path without the query, which may
-- carry an API key), what it got and how long it took. Never headers or bodies.
create table run_calls (
  id           bigserial primary key,
  run_id       bigint not null references runs(id) on delete cascade,
  method       text not null,
  path         text not null,
  status       integer,
  duration_ms  integer not null,
  retries      integer not null,
  error        text,
  at           timestamptz not null default now()
);
create index run_calls_by_run on run_calls (run_id, id);
