-- Actions, incoming provider webhooks, deploy history and API key management.

-- A sync's onWebhook execution is a run of its own kind.
alter table runs drop constraint runs_kind_check;
alter table runs add constraint runs_kind_check check (kind in ('sync', 'action', 'webhook'));

-- Keys show a short prefix and a label so a person can tell them apart; the secret is never stored.
alter table api_keys
  add column prefix  text,
  add column label   text;

-- The full set of scripts each deploy version made active, so any version can be restored.
alter table deployments add column rollback_of integer;
create table deployment_scripts (
  deployment_id  bigint not null references deployments(id) on delete cascade,
  script_id      bigint not null references scripts(id) on delete cascade,
  primary key (deployment_id, script_id)
);
-- Best effort for versions deployed before this table: the newest row of each name at or
-- below the version (removals were not recorded then).
insert into deployment_scripts (deployment_id, script_id)
select d.id, latest.id
from deployments d
cross join lateral (
  select distinct on (s.name) s.id
  from scripts s join deployments sd on sd.id = s.deployment_id
  where s.environment_id = d.environment_id and sd.version <= d.version
  order by s.name, sd.version desc
) latest;

-- Asynchronous action calls: the app polls this row; `run_id` links the execution's run.
create table action_jobs (
  id              bigserial primary key,
  environment_id  bigint not null references environments(id) on delete cascade,
  connection_id   bigint not null references connections(id) on delete cascade,
  action_name     text not null,
  input           jsonb,
  status          text not null default 'queued' check (status in ('queued', 'running', 'succeeded', 'failed')),
  run_id          bigint references runs(id) on delete set null,
  output          jsonb,
  error           jsonb,
  created_at      timestamptz not null default now(),
  finished_at     timestamptz
);

-- How to verify and route a provider's webhooks, as data beside the provider catalog.
create table provider_webhooks (
  environment_id      bigint not null references environments(id) on delete cascade,
  provider            text not null,
  signature_header    text not null,
  algorithm           text not null check (algorithm in ('sha1', 'sha256', 'sha512')),
  encoding            text not null check (encoding in ('hex', 'base64')),
  -- Text before the digest in the header, e.g. 'sha256='.
  signature_prefix    text not null default '',
  secret              text not null,
  -- Dot path to the connection id in the payload, e.g. 'account.id'.
  connection_id_path  text not null,
  -- Where the event type is: a dot path in the payload, or a header.
  event_path          text,
  event_header        text,
  updated_at          timestamptz not null default now(),
  primary key (environment_id, provider)
);
