-- Sync variants: one deployed sync may run as several independent copies on one connection (a
-- mailbox, a repo, …), each with its own schedule, state, checkpoint and delete bookkeeping.
-- Existing pairs become the 'base' variant and keep behaving as before.
alter table sync_state add column variant text not null default 'base';
alter table sync_state drop constraint sync_state_pkey;
alter table sync_state add primary key (connection_id, sync_name, variant);

alter table runs add column variant text not null default 'base';
-- Never two runs of one (connection, sync, variant) at once; variants of a sync run side by side.
drop index runs_one_running;
create unique index runs_one_running on runs (connection_id, script_name, variant) where status = 'running' and kind = 'sync';

-- A variant's records, seen ids and held deletes are stored under the model name
-- '<model>::<variant>' (host/sync/variants.ts): each variant is its own cursor stream, and the
-- store and delete detection need no change. No existing row is affected: 'base' keeps the
-- plain model name.
