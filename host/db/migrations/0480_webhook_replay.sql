-- Replay protection for incoming webhooks (host/webhooks-in/replay.ts), as each provider's own
-- scheme supports it: a signed send time held to a tolerance, and the provider's delivery id,
-- remembered so that a delivery sent twice (a retry, or a captured request replayed) runs once.
alter table provider_webhooks
  -- The header carrying the send time (unix seconds), e.g. 'x-slack-request-timestamp'.
  add column timestamp_header text,
  add column tolerance_seconds integer not null default 300,
  -- What the HMAC covers: '{body}', or e.g. 'v0:{timestamp}:{body}' (Slack), '{delivery_id}.{timestamp}.{body}' (Standard Webhooks).
  add column signed_content text not null default '{body}',
  -- Where the provider's unique delivery id is: a header ('x-github-delivery') or a dot path ('id').
  add column delivery_id_header text,
  add column delivery_id_path text;

create table webhook_deliveries_seen (
  environment_id bigint not null references environments(id) on delete cascade,
  provider       text not null,
  delivery_id    text not null,
  received_at    timestamptz not null default now(),
  primary key (environment_id, provider, delivery_id)
);
-- Rows past the retention are deleted a few at a time by the deliveries that follow.
create index webhook_deliveries_seen_received on webhook_deliveries_seen (received_at);
