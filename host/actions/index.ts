/** Actions run on demand (POST /actions/:name), in the API process or, when async, on a worker. */
import type { PgBoss } from 'pg-boss';
import { createActionJobs } from './action-jobs.ts';
import { createActionQueue, type ActionQueueDeps } from './action-queue.ts';
import { createActionRunner, type ActionRunnerDeps } from './action-runner.ts';

export { ActionLookupError, type ActionOutcome, type ActionRunner, type ActionTarget } from './action-runner.ts';
export type { ActionJobs, ActionJobRow } from './action-jobs.ts';
export type { ActionQueue } from './action-queue.ts';

export async function createActions(deps: ActionRunnerDeps & Pick<ActionQueueDeps, 'boss' | 'outbox' | 'jobHeartbeatSeconds'>) {
  const actionJobs = createActionJobs(deps.sql);
  const actionRunner = createActionRunner(deps);
  const actionQueue = await createActionQueue({ ...deps, actionJobs, runner: actionRunner });
  return { actionJobs, actionRunner, actionQueue };
}
