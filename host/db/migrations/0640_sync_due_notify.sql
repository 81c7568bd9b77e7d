-- A pair (or a part of a split pass) that becomes due now tells the worker hosts at its commit
-- (NOTIFY ferry_sync_due), so one of them ticks at once instead of finding it at its next tick
-- (FERRY_SCHEDULER_TICK_MS): a sync deployed to every connection, a new connection's first run,
-- a resumed sync, a split pass's parts. Only a row that was not due before fires: the tick's own
-- updates move a due row later, so it never wakes itself. A lost notification costs only the
-- wait for the next tick, as before (host/queue/work-notices.ts).
create function ferry_notify_sync_due() returns trigger language plpgsql as $$
begin
  perform pg_notify('ferry_sync_due', '');
  return null;
end $$;

create trigger sync_state_due_on_insert after insert on sync_state
  for each row when (new.next_run_at <= now() and not new.paused)
  execute function ferry_notify_sync_due();

create trigger sync_state_due_on_update after update of next_run_at, paused on sync_state
  for each row when (new.next_run_at <= now() and not new.paused and (old.paused or old.next_run_at > now()))
  execute function ferry_notify_sync_due();

create trigger sync_parts_due_on_insert after insert on sync_parts
  for each row when (new.next_run_at <= now())
  execute function ferry_notify_sync_due();

create trigger sync_parts_due_on_update after update of next_run_at on sync_parts
  for each row when (new.next_run_at <= now() and (old.next_run_at is null or old.next_run_at > now()))
  execute function ferry_notify_sync_due();
