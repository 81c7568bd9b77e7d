-- A pair the scheduler passed over because its connection needs re-authorisation: its next run
-- moves on with its schedule (so such pairs never pile up at the head of the due index), and new
-- credentials make the pairs so marked due at once (host/sync/sync-state.ts resumeAfterReauth).
alter table sync_state add column waiting_reauth boolean not null default false;
