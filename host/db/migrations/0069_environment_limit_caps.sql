-- Caps on the limits a script may declare, per environment (null: the host's default cap).
-- A deploy declaring more is refused; a run never gets more than the cap at its start.
alter table environment_settings
  add column max_memory_mb integer,
  add column max_wall_time_ms integer,
  add column max_cpu_time_ms integer;
