/**
 * One execution of an action for a connection: the action's input and output are validated by
 * its own zod schemas inside the isolate, provider calls go through the connection's proxy, and
 * the execution is recorded as a run (kind 'action') with its usage and logs. Records the action
 * declares (`models` in createAction) are saved through the same bridge as a sync's, so the app
 * reads its write-back at once.
 */
import type { Limits, RunError, RunResult, Runtime } from '@ferry/runtime/contract';
import type { ConnectionRow } from '../connections/connections.ts';
import type { Sql, TransactionSql } from '../db/connect.ts';
import { retryTransient } from '../db/transient.ts';
import type { Provider, Providers } from '../connections/providers.ts';
import { findScriptFor, ScriptLookupError } from '../deploy/script-lookup.ts';
import type { ScriptRow, Scripts } from '../deploy/scripts.ts';
import { executeRun } from '../runs/execute-run.ts';
import { limitsFor } from '../runs/run-limits.ts';
import type { RunRow } from '../runs/runs.ts';
import { createRunBridge, type RunBridgeDeps } from '../sync/run-bridge.ts';

export interface ActionRunnerDeps extends RunBridgeDeps {
  runtime: Runtime;
  scripts: Scripts;
  providers: Providers;
  heartbeatMs?: number;
}

export interface ActionTarget {
  script: ScriptRow;
  connection: ConnectionRow;
  provider: Provider;
}

export type ActionLookupCode = 'ACTION_NOT_FOUND' | 'PROVIDER_MISMATCH' | 'UNKNOWN_PROVIDER';

/** Why an action cannot run for a connection, before anything ran. */
export class ActionLookupError extends Error {
  readonly code: ActionLookupCode;
  constructor(code: ActionLookupCode, message: string) {
    super(message);
    this.code = code;
  }
}

export type ActionOutcome =
  | { runId: string; ok: true; output: unknown }
  | { runId: string; ok: false; error: RunError };

export function createActionRunner(deps: ActionRunnerDeps) {
  const log = deps.logger.child({ module: 'action-runner' });

  const runner = {
    /** The active action of the connection's provider; `address` is `name` or `provider/name`. */
    async resolve(environmentId: string, address: string, connection: ConnectionRow): Promise<ActionTarget> {
      let script: ScriptRow;
      try {
        script = await findScriptFor(deps.scripts, { environmentId, address, kind: 'action', connection });
      } catch (err) {
        if (!(err instanceof ScriptLookupError)) throw err;
        throw new ActionLookupError(err.code === 'NOT_FOUND' ? 'ACTION_NOT_FOUND' : err.code, err.message);
      }
      const provider = await deps.providers.get(environmentId, connection.provider);
      if (!provider) throw new ActionLookupError('UNKNOWN_PROVIDER', `provider "${connection.provider}" is not configured`);
      return { script, connection, provider };
    },

    /** The limits a run of the action gets, read before it starts. */
    limits: (target: ActionTarget): Promise<Limits> => limitsFor(deps.sql, target.connection.environment_id, target.script.manifest.limits),

    /**
     * Writes the action's running run row (in `tx`, to commit it with what the caller claims beside
     * it). An async call's run carries its id: the database refuses a second run of one call
     * (runs_action_once), which the claim already prevents.
     */
    async start(target: ActionTarget, trigger: string, tx: Sql | TransactionSql = deps.sql, callId: string | null = null): Promise<RunRow> {
      const { script, connection } = target;
      const run = await deps.runs.start({
        connectionId: connection.id, scriptName: script.name, kind: 'action', scriptVersion: script.version, trigger, isFull: false,
        jobId: callId === null ? null : actionRunJobId(callId),
      }, tx);
      if (!run) throw new Error(callId === null ? 'could not start the action run' : `action call ${callId} already has a run`);
      return run;
    },

    /** Runs a started action in the runtime: a host fault comes back as a failed result, never thrown. */
    async perform(target: ActionTarget, runId: string, input: unknown, limits: Limits): Promise<RunResult> {
      const { script, connection, provider } = target;
      const manifest = script.manifest.type === 'action' ? script.manifest : null;
      const bridge = createRunBridge(deps, { runId, script, connection, provider, models: manifest?.models ?? [], syncName: null });
      const result = await executeRun(deps, { runId, kind: 'action', script, connection, provider, bridge, limits, input });
      log.info({ runId, action: script.name, connection: connection.connection_id, ok: result.ok, usage: result.usage }, 'action run finished');
      return result;
    },

    /** Settles the run row; false when it was settled already (failed as WORKER_LOST while this process stalled). */
    finish: (runId: string, result: RunResult, tx: Sql | TransactionSql = deps.sql): Promise<boolean> =>
      deps.runs.finish(runId, result.ok ? { status: 'succeeded', usage: result.usage } : { status: 'failed', usage: result.usage, error: result.error }, tx),

    /** One call answered in the request (POST /actions/:name without `async`). */
    async execute(target: ActionTarget, input: unknown, options: { trigger: string }): Promise<ActionOutcome> {
      const limits = await runner.limits(target);
      const run = await runner.start(target, options.trigger);
      const result = await runner.perform(target, run.id, input, limits);
      await retryTransient(() => runner.finish(run.id, result));
      return outcome(run.id, result);
    },
  };
  return runner;
}

/** The job_id of an async call's run: the call's id, in a namespace of its own (runs.job_id also holds pg-boss ids). */
export const actionRunJobId = (callId: string): string => `action:${callId}`;

export function outcome(runId: string, result: RunResult): ActionOutcome {
  return result.ok ? { runId, ok: true, output: result.output } : { runId, ok: false, error: result.error };
}
export type ActionRunner = ReturnType<typeof createActionRunner>;
