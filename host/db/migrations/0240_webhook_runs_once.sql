-- An incoming webhook delivery runs each subscribed sync once: its runs carry the delivery's id
-- (job_id) and a second start of the same sync for it (the delivery queued again after a lost
-- database, or retried) is refused like a sync's concurrent run (ON CONFLICT DO NOTHING).
create unique index runs_webhook_once on runs (job_id, script_name) where kind = 'webhook' and job_id is not null;
