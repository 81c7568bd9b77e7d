-- An async action call runs at most once, held by the database as well as by its claim
-- (action_jobs queued -> running, in the run's start transaction): its run carries the call's id
-- (job_id 'action:<id>'), and a second run row for the same call is refused (ON CONFLICT DO
-- NOTHING in the start), whatever a redelivered job or a future code path would do.
create unique index runs_action_once on runs (job_id) where kind = 'action' and job_id is not null;
