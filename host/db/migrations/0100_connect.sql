-- Connect: an app's end users link their own accounts through short-lived sessions.

-- Catalog entries gain a display name and what the connect page asks for.
alter table providers
  add column display_name  text,
  add column connect       jsonb;

-- Which end user a connection belongs to (set when it was made through connect).
alter table connections
  add column end_user_id          text,
  add column end_user_org_id      text;
create index connections_by_end_user on connections (environment_id, end_user_id) where end_user_id is not null;

-- One session per "connect" attempt of one end user. Only the token's SHA-256 is stored.
create table connect_sessions (
  id                       bigserial primary key,
  environment_id           bigint not null references environments(id) on delete cascade,
  token_hash               text not null unique,
  end_user_id              text not null,
  end_user_email           text,
  end_user_display_name    text,
  end_user_org_id          text,
  -- Null: every provider the environment has.
  allowed_providers        text[],
  -- Reconnect: the existing connection (its connection_id) this session repairs.
  reconnect_connection_id  text,
  return_url               text,
  expires_at               timestamptz not null,
  -- Set in the transaction that saved the connection: a session makes one connection.
  used_at                  timestamptz,
  connection_id            text,
  created_at               timestamptz not null default now()
);
create index connect_sessions_expiry on connect_sessions (expires_at);

-- An authorization-code attempt: state (hashed) → session, provider and PKCE verifier (encrypted).
create table connect_oauth_states (
  state_hash          text primary key,
  session_id          bigint not null references connect_sessions(id) on delete cascade,
  provider            text not null,
  code_verifier_enc   text not null,
  redirect_uri        text not null,
  connection_config   jsonb not null default '{}',
  used_at             timestamptz,
  created_at          timestamptz not null default now()
);

-- The environment's OAuth app at a provider: what connect authenticates to it with.
create table provider_oauth_clients (
  environment_id     bigint not null references environments(id) on delete cascade,
  provider           text not null,
  client_id          text not null,
  client_secret_enc  text,
  scopes             text[],
  updated_at         timestamptz not null default now(),
  primary key (environment_id, provider)
);

-- Outgoing webhooks carry more than sync events now.
alter table webhook_deliveries add column event_type text not null default 'sync';
