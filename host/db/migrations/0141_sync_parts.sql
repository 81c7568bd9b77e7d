-- Parallel first sync: a full pass of a sync that declares `split` runs as parts (time windows
-- between a start and now), each its own run with its own checkpoint and retries, across all
-- workers. The pass succeeds (lastSyncDate moves, full-refresh deletes apply) only in the
-- transaction that settles its last part. Rows live until the pass succeeds.
create table sync_parts (
  connection_id bigint not null references connections(id) on delete cascade,
  sync_name text not null,
  variant text not null,
  part text not null,
  window_from timestamptz,
  window_to timestamptz,
  -- pending: due at next_run_at; queued: a job carries it; running; failed: retried at
  -- next_run_at, or given up (next_run_at null) until the pair's next run re-arms it; succeeded.
  status text not null default 'pending' check (status in ('pending', 'queued', 'running', 'failed', 'succeeded')),
  checkpoint jsonb,
  retry_attempt integer not null default 0,
  next_run_at timestamptz default now(),
  run_id bigint,
  primary key (connection_id, sync_name, variant, part)
);
create index sync_parts_due on sync_parts (next_run_at) where status in ('pending', 'failed');

alter table runs add column part text;
-- Parts of one pass run side by side; one part (and the pair itself) never twice at once.
drop index runs_one_running;
create unique index runs_one_running on runs (connection_id, script_name, variant, coalesce(part, '')) where status = 'running' and kind = 'sync';
