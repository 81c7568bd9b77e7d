/**
 * POST /actions/:name runs an action for a connection and answers with its validated output,
 * or with the script's ActionError (400, with its type and payload), invalid input (400), or the
 * typed run error of a script failure or a limit (5xx). With `async: true` it answers 202 at
 * once with a status URL to poll.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import type { RunError } from '@ferry/runtime/contract';
import type { ActionJobRow, ActionJobs } from '../../actions/action-jobs.ts';
import type { ActionQueue } from '../../actions/action-queue.ts';
import { ActionLookupError, type ActionRunner, type ActionTarget } from '../../actions/action-runner.ts';
import type { Connections } from '../../connections/connections.ts';
import type { ApiEnv } from '../app.ts';
import { ApiError, jsonBody, notFound, parseInput } from '../errors.ts';
import { defineRoutes } from '../openapi/index.ts';
import { ScriptAddressParam } from './script-param.ts';

export interface ActionRouteDeps {
  connections: Connections;
  actionRunner: ActionRunner;
  actionQueue: ActionQueue;
  actionJobs: ActionJobs;
}

const ActionName = ScriptAddressParam('action');
const ActionCall = z.strictObject({
  connection_id: z.string().min(1).max(255),
  input: z.unknown().optional(),
  /** Answer 202 at once and run the action in the background. */
  async: z.boolean().default(false),
});
const JobIdParam = z.object({ id: z.string().regex(/^\d{1,19}$/, 'an action job id is a number') });

const RunErrorView = z.looseObject({ kind: z.string(), code: z.string(), message: z.string() });
const ActionJobView = z.object({
  id: z.string(), action: z.string(), connection_id: z.string(), status: z.enum(['queued', 'running', 'succeeded', 'failed']),
  run_id: z.string().nullable(), output: z.unknown(), error: RunErrorView.nullable(), created_at: z.string(), finished_at: z.string().nullable(),
});

export const actionRouteSpecs = defineRoutes([
  {
    method: 'post', path: '/actions/:name', tag: 'actions', params: ActionName, body: ActionCall,
    summary: 'Run an action for a connection',
    description: 'Input and output are validated with the action\'s schemas. An ActionError is a 400 with its type and payload; invalid input a 400; a connection that needs re-authorisation a 409 (CONNECTION_REAUTH_REQUIRED); a script failure or a limit a 5xx carrying the run error. With async: true, 202 and a status URL.',
    responses: {
      200: { description: 'The validated output', schema: z.object({ run_id: z.string(), output: z.unknown() }) },
      202: { description: 'Queued (async)', schema: z.object({ id: z.string(), status: z.literal('queued'), status_url: z.string() }) },
    },
  },
  {
    method: 'get', path: '/actions/jobs/:id', tag: 'actions', params: JobIdParam, summary: 'Status and outcome of an async action call',
    responses: { 200: { description: 'The call', schema: ActionJobView } },
  },
]);

/** The run error as apps see it: no stack or source location, which are for the run's own record. */
function publicRunError(error: RunError) {
  const { stack: _stack, location: _location, ...rest } = error;
  return rest;
}

/** What a failed action answers: the script's own error, or a connection to reconnect, is the caller's to handle (4xx); anything else is ours (5xx). */
export function actionFailure(error: RunError, runId: string): { status: ContentfulStatusCode; body: unknown } {
  if (error.code === 'ACTION_ERROR') {
    return { status: 400, body: { error: { code: 'ACTION_ERROR', message: error.message, type: error.type ?? 'action_error', payload: error.payload ?? null, run_id: runId } } };
  }
  if (error.code === 'INVALID_INPUT') {
    return { status: 400, body: { error: { code: 'INVALID_INPUT', message: error.message, run_id: runId } } };
  }
  // Not the host's fault, nor fixed by retrying: the end user must reconnect (as the proxy route answers it).
  if (error.code === 'CONNECTION_REAUTH_REQUIRED') {
    return { status: 409, body: { error: { code: error.code, message: error.message, run_id: runId, run_error: publicRunError(error) } } };
  }
  // Always 500, never 502-504: clients retry those, and an action that may have written must not run twice unasked.
  return { status: 500, body: { error: { code: error.code, message: error.message, run_id: runId, run_error: publicRunError(error) } } };
}

function presentJob(job: ActionJobRow, connectionId: string) {
  return {
    id: job.id,
    action: job.action_name,
    connection_id: connectionId,
    status: job.status,
    run_id: job.run_id,
    output: job.status === 'succeeded' ? job.output : null,
    error: job.error ? publicRunError(job.error) : null,
    created_at: job.created_at,
    finished_at: job.finished_at,
  };
}

export function actionRoutes(deps: ActionRouteDeps) {
  const app = new Hono<ApiEnv>();

  async function resolve(c: Context<ApiEnv>, name: string, connectionId: string): Promise<ActionTarget> {
    const env = c.get('environment');
    const connection = await deps.connections.get(env.id, connectionId);
    if (!connection) throw notFound(`connection "${connectionId}"`);
    try {
      return await deps.actionRunner.resolve(env.id, name, connection);
    } catch (err) {
      if (!(err instanceof ActionLookupError)) throw err;
      if (err.code === 'ACTION_NOT_FOUND') throw new ApiError(404, 'NOT_FOUND', err.message);
      if (err.code === 'PROVIDER_MISMATCH') throw new ApiError(400, err.code, err.message, [{ path: ['body', 'connection_id'], message: err.message }]);
      throw new ApiError(409, err.code, err.message);
    }
  }

  app.post('/actions/:name', async (c) => {
    const { name } = parseInput(ActionName, c.req.param(), 'params');
    const call = parseInput(ActionCall, await jsonBody(c), 'body');
    const target = await resolve(c, name, call.connection_id);

    if (call.async) {
      const job = await deps.actionQueue.enqueue({ environmentId: c.get('environment').id, target, input: call.input ?? null });
      return c.json({ id: job.id, status: job.status, status_url: `/actions/jobs/${job.id}` }, 202);
    }

    const outcome = await deps.actionRunner.execute(target, call.input ?? null, { trigger: 'api' });
    if (outcome.ok) return c.json({ run_id: outcome.runId, output: outcome.output ?? null });
    const failure = actionFailure(outcome.error, outcome.runId);
    return c.json(failure.body, failure.status);
  });

  app.get('/actions/jobs/:id', async (c) => {
    const { id } = parseInput(JobIdParam, c.req.param(), 'params');
    const job = await deps.actionJobs.get(c.get('environment').id, id);
    const connection = job ? await deps.connections.getById(job.connection_id) : null;
    if (!job || !connection) throw notFound(`action job ${id}`);
    return c.json(presentJob(job, connection.connection_id));
  });

  return app;
}
