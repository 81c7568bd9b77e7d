-- What a sync run started from (the dashboard's "fetch window"): the lastSyncDate and the
-- checkpoint it was given, and the memory limit its isolate ran under, kept on the run because
-- the sync state moves on after it.
alter table runs
  add column fetch_since timestamptz,
  add column fetch_checkpoint jsonb,
  add column memory_limit_mb integer;
