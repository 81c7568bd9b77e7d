-- Tenancy, connections, deployed scripts, sync state, runs and their logs.
-- Records live in 0002_records.sql.

create table environments (
  id          bigserial primary key,
  name        text not null unique,
  created_at  timestamptz not null default now()
);

-- Secret keys are stored as sha256 hashes only.
create table api_keys (
  id              bigserial primary key,
  environment_id  bigint not null references environments(id) on delete cascade,
  key_hash        text not null unique,
  created_at      timestamptz not null default now(),
  revoked_at      timestamptz
);

-- The provider catalog as data: deployers add or override entries without code changes.
create table providers (
  environment_id  bigint not null references environments(id) on delete cascade,
  name            text not null,
  base_url        text not null,
  auth            jsonb not null default '{"type":"none"}',
  updated_at      timestamptz not null default now(),
  primary key (environment_id, name)
);

create table connections (
  id                 bigserial primary key,
  environment_id     bigint not null references environments(id) on delete cascade,
  connection_id      text not null,
  provider           text not null,
  credentials        jsonb not null default '{}',
  connection_config  jsonb not null default '{}',
  metadata           jsonb,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  unique (environment_id, connection_id)
);

create table deployments (
  id              bigserial primary key,
  environment_id  bigint not null references environments(id) on delete cascade,
  version         integer not null,
  created_at      timestamptz not null default now(),
  unique (environment_id, version)
);

-- One row per (script, deployed version); `active` marks the version that runs.
create table scripts (
  id              bigserial primary key,
  environment_id  bigint not null references environments(id) on delete cascade,
  deployment_id   bigint not null references deployments(id) on delete cascade,
  name            text not null,
  provider        text not null,
  kind            text not null check (kind in ('sync', 'action')),
  code            text not null,
  hash            text not null,
  manifest        jsonb not null,
  active          boolean not null default true,
  created_at      timestamptz not null default now()
);
create unique index scripts_one_active on scripts (environment_id, name) where active;

-- Per (connection, sync): where the sync stands and when it runs next.
create table sync_state (
  connection_id   bigint not null references connections(id) on delete cascade,
  sync_name       text not null,
  frequency_ms    bigint not null,
  next_run_at     timestamptz not null default now(),
  paused          boolean not null default false,
  -- Start of the last successful run: moved only when a run succeeds.
  last_sync_date  timestamptz,
  checkpoint      jsonb,
  primary key (connection_id, sync_name)
);
create index sync_state_due on sync_state (next_run_at) where not paused;

create table runs (
  id                bigserial primary key,
  connection_id     bigint not null references connections(id) on delete cascade,
  script_name       text not null,
  kind              text not null check (kind in ('sync', 'action')),
  script_version    integer not null,
  status            text not null check (status in ('running', 'succeeded', 'failed')),
  trigger           text not null,
  is_full           boolean not null default false,
  started_at        timestamptz not null default now(),
  finished_at       timestamptz,
  heartbeat_at      timestamptz not null default now(),
  added             integer not null default 0,
  updated           integer not null default 0,
  unchanged         integer not null default 0,
  deleted           integer not null default 0,
  rejected          integer not null default 0,
  wall_ms           integer,
  cpu_ms            integer,
  peak_heap_bytes   bigint,
  bridge_bytes      bigint,
  proxy_calls       integer,
  error             jsonb
);
-- Never two runs of one (connection, sync) at once, whatever the queue does.
create unique index runs_one_running on runs (connection_id, script_name) where status = 'running' and kind = 'sync';
create index runs_history on runs (connection_id, script_name, id desc);

create table run_logs (
  run_id   bigint not null references runs(id) on delete cascade,
  seq      integer not null,
  level    text not null,
  message  text not null,
  at       timestamptz not null,
  primary key (run_id, seq)
);
