-- Records synced from providers, one row per (connection, model, provider id).
-- `cursor` is drawn from one global sequence whenever a row changes (added, updated, deleted,
-- restored); readers page by (connection_id, model, cursor). The store takes an advisory lock
-- per (connection_id, model) before drawing cursors so they commit in increasing order there
-- (see host/store/records-save.ts). No FK to connections: rows are written at ingest speed and
-- connections are deleted by their own code path.
create sequence if not exists records_cursor_seq as bigint;

create table if not exists records (
  connection_id bigint not null,
  model text not null,
  id text not null,
  data jsonb not null,
  -- hex sha1 of the record's JSON text as the script produced it; equal hash = unchanged
  hash text not null,
  first_seen_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  last_action text not null default 'added' check (last_action in ('added', 'updated', 'deleted')),
  cursor bigint not null default nextval('records_cursor_seq'),
  last_run_id bigint,
  primary key (connection_id, model, id)
);

-- Keyset reading: where connection_id = $1 and model = $2 and cursor > $3 order by cursor.
-- Partial on purpose (every row has cursor > 0): only statements that constrain the cursor can
-- use it. Before ANALYZE (and for a connection the statistics have not seen yet) the planner
-- estimates 1 row for (connection_id, model) and preferred this smaller index over the primary
-- key for id probes, filtering every row of the model per batch; readers' `cursor > $3` (planned
-- with its value) implies the predicate, the write path's id probes do not.
create index if not exists records_read_idx on records (connection_id, model, cursor) where cursor > 0;

-- Records a script produced that the host refused, kept with the reason.
create table if not exists rejected_records (
  seq bigserial primary key,
  connection_id bigint not null,
  model text not null,
  record_id text,
  reason text not null,
  run_id bigint,
  rejected_at timestamptz not null default now()
);
create index if not exists rejected_records_run_idx on rejected_records (run_id) where run_id is not null;
create index if not exists rejected_records_model_idx on rejected_records (connection_id, model, seq);

