-- Sync engine: schedules (interval or cron with time zone, per-connection override), passes
-- that survive a crash (checkpoint resume), full-refresh delete detection, retries, outgoing
-- webhooks.

-- The sync's own schedule (manifest `frequency`) and a per-connection override; frequency_ms
-- stays the effective period (nominal for cron), cron/cron_tz the effective cron when there is one.
alter table sync_state
  add column schedule text,
  add column schedule_override text,
  add column cron text,
  add column cron_tz text,
  -- "full run" asked from the API/CLI: survives a job that was already queued without it.
  add column full_requested boolean not null default false,
  -- Successful incremental runs since the last full refresh (for "a full refresh every N").
  add column incrementals_since_full integer not null default 0,
  -- A pass is the work from a fresh start to a success, possibly over several runs that resume
  -- from the checkpoint. What the pass was started with is kept so a resumed run continues it.
  add column pass_started_at timestamptz,
  add column pass_full boolean not null default false,
  add column pass_since timestamptz,
  add column pass_tracks_deletes boolean not null default false,
  -- Retries of a failing pair (reset by a success).
  add column retry_attempt integer not null default 0,
  add column consecutive_failures integer not null default 0;

alter table runs
  add column job_id text,
  -- When the scheduler meant the run to start (start lag = started_at - scheduled_for).
  add column scheduled_for timestamptz,
  -- Started from a saved checkpoint, and whether it saved a different one.
  add column resumed boolean not null default false,
  add column checkpoint_advanced boolean not null default false;
create index runs_running_heartbeat on runs (heartbeat_at) where status = 'running';

-- Pausing a connection pauses every sync of it, including syncs deployed later.
create table paused_connections (
  connection_id bigint primary key references connections(id) on delete cascade,
  paused_at timestamptz not null default now()
);

-- Ids saved during a delete-detecting walk: scope 'full' for a full-refresh pass, 'track' for a
-- trackDeletesStart/End window. Unchanged records are not rewritten in `records`, so "seen" needs
-- its own rows; they live only until the pass or window ends.
create table sync_seen (
  connection_id bigint not null,
  sync_name text not null,
  scope text not null check (scope in ('full', 'track')),
  model text not null,
  id text not null,
  primary key (connection_id, sync_name, scope, model, id)
);

create table environment_settings (
  environment_id bigint primary key references environments(id) on delete cascade,
  webhook_url text,
  webhook_secret text,
  -- Runs of this environment at once across all workers; null = the host's default.
  max_concurrent_runs integer check (max_concurrent_runs between 1 and 256),
  updated_at timestamptz not null default now()
);

create table webhook_deliveries (
  id bigserial primary key,
  environment_id bigint not null references environments(id) on delete cascade,
  run_id bigint,
  url text not null,
  payload jsonb not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts integer not null default 0,
  last_status integer,
  last_error text,
  created_at timestamptz not null default now(),
  delivered_at timestamptz
);
create index webhook_deliveries_run on webhook_deliveries (run_id);
