/**
 * What every kind of run (sync, action, webhook) shares once its run row exists: the job the
 * runtime gets, the heartbeat that tells other processes the run is alive, storing every log
 * line before the run is settled, and turning a host fault into a failed result. Each runner
 * then settles the result its own way.
 */
import type { Limits, RunError, RunJob, RunResult, Runtime } from '@ferry/runtime/contract';
import type { Sql } from '../db/connect.ts';
import { isTransientDatabaseError } from '../db/transient.ts';
import type { ConnectionRow } from '../connections/connections.ts';
import type { Provider } from '../connections/providers.ts';
import type { ScriptRow } from '../deploy/scripts.ts';
import type { Logger } from '../logger.ts';
import type { RunBridge } from '../sync/run-bridge.ts';
import { locateScriptError } from './source-locations.ts';
import type { Runs } from './runs.ts';

export interface ExecuteRunDeps {
  sql: Sql;
  runtime: Runtime;
  runs: Runs;
  logger: Logger;
  heartbeatMs?: number;
}

export interface ExecuteRunArgs {
  runId: string;
  kind: RunJob['kind'];
  script: ScriptRow;
  connection: ConnectionRow;
  provider: Provider;
  bridge: RunBridge;
  /** From limitsFor (host/runs/run-limits.ts), read once by the runner that also records them on the run. */
  limits: Limits;
  input?: unknown;
  lastSyncDate?: Date | null;
  isFullRun?: boolean;
  checkpoint?: Record<string, unknown> | null;
  /** A sync run's variant, which the script reads as `nango.variant`. */
  variant?: string;
  /** The part of a split pass a sync run reads (`nango.partition`). */
  partition?: { key: string; from: string | null; to: string | null };
}

/** A run that failed because the host did: a lost database connection is DATABASE_ERROR (retried), not the script's error. */
function hostError(err: Error, code: string): RunError {
  return isTransientDatabaseError(err)
    ? { kind: 'internal', code: 'DATABASE_ERROR', message: `the host lost its database connection: ${err.message}` }
    : { kind: 'internal', code, message: err.message };
}

export async function executeRun(deps: ExecuteRunDeps, args: ExecuteRunArgs): Promise<RunResult> {
  const { connection, provider, bridge, limits } = args;
  const heartbeat = setInterval(() => void deps.runs.heartbeat(args.runId).catch(() => {}), deps.heartbeatMs ?? 10_000);
  try {
    const result = await deps.runtime.run({
      runId: args.runId,
      // Warm isolates are keyed by environment: never shared across tenants.
      environmentId: connection.environment_id,
      code: args.script.code,
      kind: args.kind,
      ...(args.input !== undefined && { input: args.input }),
      limits,
      context: {
        lastSyncDate: args.lastSyncDate?.toISOString() ?? null,
        isFullRun: args.isFullRun ?? false,
        connection: { connection_id: connection.connection_id, provider: connection.provider, connection_config: connection.connection_config, metadata: connection.metadata },
        checkpoint: args.checkpoint ?? null,
        ...(args.variant !== undefined && { variant: args.variant }),
        ...(args.partition !== undefined && { partition: args.partition }),
        ...(provider.pagination && { paginationDefaults: provider.pagination }),
      },
    }, bridge, { signal: bridge.signal });
    // The script may have returned while its last batch was still being written.
    const { writeFailure, timedOut } = await settleHostWork(bridge, Math.max(0, limits.wallTimeMs - result.usage.wallMs));
    if (timedOut && result.ok) {
      const message = `wall time limit of ${limits.wallTimeMs} ms exceeded: the host was still storing the run's records`;
      return { ok: false, error: { kind: 'limit', code: 'WALL_TIME', message, limit: limits.wallTimeMs, used: limits.wallTimeMs }, logs: result.logs, usage: result.usage };
    }
    if (writeFailure && result.ok) {
      deps.logger.error({ err: writeFailure, runId: args.runId }, 'writing records failed');
      const error = hostError(writeFailure, 'RECORD_WRITE_FAILED');
      if (error.code === 'RECORD_WRITE_FAILED') error.message = `saving records failed: ${writeFailure.message}`;
      return { ok: false, error, logs: result.logs, usage: result.usage };
    }
    // The script failed after a bridge call failed in the host (it may have rethrown or wrapped
    // that error): the host's fault decides the run's error, so it is classified and retried as such.
    const fault = bridge.hostFault();
    if (!result.ok && fault && !bridge.fenced) {
      deps.logger.error({ err: fault, runId: args.runId, scriptError: result.error }, `${args.kind} run failed on a host fault`);
      return { ...result, error: hostError(fault, 'DATABASE_ERROR') };
    }
    if (!result.ok) {
      const error = await locateScriptError(deps, args.script, result.error);
      // A script that caught the refusal and threw its own error still failed because the end user must reconnect.
      const reauth = bridge.reauthRequired();
      if (reauth && error.code === 'SCRIPT_ERROR') {
        return { ...result, error: { ...error, kind: 'sdk', code: reauth.code, message: `${reauth.message} (the script then failed: ${error.message})` } };
      }
      return { ...result, error };
    }
    return result;
  } catch (err) {
    // Only host faults land here: the runtime returns script faults as data.
    deps.logger.error({ err, runId: args.runId }, `${args.kind} run failed in the host`);
    await bridge.flush();
    return {
      ok: false,
      error: { kind: 'internal', code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) },
      logs: [],
      usage: { wallMs: 0, cpuMs: 0, peakHeapBytes: 0, bridgeBytes: 0, proxyCalls: bridge.calls.length },
    };
  } finally {
    clearInterval(heartbeat);
  }
}

/**
 * The wall-time limit covers the host's work for the run: writes the run left in flight get what
 * is left of its wall time (nothing, for a run stopped at its limit), then they are cancelled and
 * rolled back, so a run never holds its slot and a transaction past its limit.
 */
async function settleHostWork(bridge: RunBridge, leftMs: number): Promise<{ writeFailure: Error | null; timedOut: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    bridge.flush().then(() => false),
    new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), leftMs); }),
  ]);
  clearTimeout(timer);
  if (timedOut) bridge.abort(new Error('the run reached its wall time limit before this write committed'));
  return { writeFailure: await bridge.flush(), timedOut };
}
