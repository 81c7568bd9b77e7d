-- A manual trigger of a paused sync runs it, split or not: the waiting parts of its split pass
-- are marked to run once despite the pause (host/sync/parts.ts rearm), until each starts.
alter table sync_parts add column run_while_paused boolean not null default false;
