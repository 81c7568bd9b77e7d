-- A script's name is unique within its provider, not the environment: figma/delete-comment and
-- linear/delete-comment deploy side by side. A connection belongs to one provider, so everything
-- keyed by (connection, script name) — sync state, runs, seen ids — stays unambiguous.
drop index scripts_one_active;
create unique index scripts_one_active on scripts (environment_id, provider, name) where active;
