-- What a sync run changed per model ({"Invoice": {"added": 120, "updated": 0, "deleted": 0}}),
-- written when it settles; the totals stay in added/updated/deleted. Null for runs before it and
-- for actions.
alter table runs add column model_counts jsonb;
