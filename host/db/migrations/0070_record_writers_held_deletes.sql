-- Which syncs wrote each record: a sync's delete detection deletes only records it wrote, and a
-- record two syncs wrote is deleted only once neither still sees it (docs/syncs.md).
alter table records add column synced_by text[] not null default '{}';
-- Existing rows: the sync whose run last wrote them is the best knowledge there is.
update records r set synced_by = array[u.script_name]
from runs u where u.id = r.last_run_id and u.kind in ('sync', 'webhook');

-- Warnings of a run that still succeeded (e.g. deletes held by the mass-delete guard).
alter table runs add column warnings jsonb;

-- Deletes a pass would have applied but the mass-delete guard held: applied or discarded by an
-- explicit call (POST /syncs/:name/held-deletes/apply|discard), replaced by the next pass's own.
-- `cursor` is the record's cursor when held: applying skips a record that changed since.
create table held_deletes (
  connection_id bigint not null references connections(id) on delete cascade,
  sync_name text not null,
  model text not null,
  id text not null,
  cursor bigint not null,
  run_id bigint not null,
  held_at timestamptz not null default now(),
  primary key (connection_id, sync_name, model, id)
);
