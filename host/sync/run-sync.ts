/**
 * One execution of a (connection, sync): load what it needs, run it in the runtime, and settle
 * it. State moves only when the run succeeds, in the same transaction that finishes the run;
 * a failed run keeps the records it saved (partial success) and leaves lastSyncDate alone.
 */
import type { RunError, Runtime } from '../../runtime/contract.ts';
import type { Sql } from '../db/connect.ts';
import type { Connections } from '../connections/connections.ts';
import type { Providers } from '../connections/providers.ts';
import type { Scripts } from '../deploy/scripts.ts';
import type { Logger } from '../logger.ts';
import type { Proxy } from '../proxy/proxy.ts';
import type { Runs } from '../runs/runs.ts';
import { createRunBridge, type RecordWriter } from './run-bridge.ts';
import type { SyncState } from './sync-state.ts';

export interface SyncJob {
  connectionId: string;
  syncName: string;
  trigger: 'schedule' | 'manual';
  full?: boolean;
}

export type SyncOutcome =
  | { status: 'skipped'; reason: string }
  | { status: 'succeeded' | 'failed'; runId: string; error?: RunError };

export interface SyncRunnerDeps {
  sql: Sql;
  runtime: Runtime;
  records: RecordWriter;
  runs: Runs;
  syncState: SyncState;
  scripts: Scripts;
  connections: Connections;
  providers: Providers;
  proxy: Proxy;
  logger: Logger;
  heartbeatMs?: number;
}

export function createSyncRunner(deps: SyncRunnerDeps) {
  const log = deps.logger.child({ module: 'sync-runner' });

  return {
    async run(job: SyncJob): Promise<SyncOutcome> {
      const connection = await deps.connections.getById(job.connectionId);
      if (!connection) return { status: 'skipped', reason: 'connection deleted' };
      const script = await deps.scripts.getActive(connection.environment_id, job.syncName);
      if (!script || script.manifest.type !== 'sync') return { status: 'skipped', reason: 'sync not deployed' };
      const state = await deps.syncState.get(connection.id, job.syncName);
      if (!state) return { status: 'skipped', reason: 'sync not enabled for this connection' };
      const provider = await deps.providers.get(connection.environment_id, connection.provider);
      if (!provider) return { status: 'skipped', reason: `provider ${connection.provider} is not configured` };

      const isFull = job.full === true || state.last_sync_date === null || script.manifest.syncType === 'full';
      const run = await deps.runs.start({
        connectionId: connection.id, scriptName: job.syncName, kind: 'sync', scriptVersion: script.version,
        trigger: job.full ? 'full' : job.trigger, isFull,
      });
      if (!run) return { status: 'skipped', reason: 'a run of this sync is already in progress' };

      const bridge = createRunBridge(deps, {
        runId: run.id, connection, provider,
        models: script.manifest.models, syncName: job.syncName,
      });
      const heartbeat = setInterval(() => void deps.runs.heartbeat(run.id).catch(() => {}), deps.heartbeatMs ?? 10_000);
      try {
        const result = await deps.runtime.run({
          runId: run.id,
          code: script.code,
          kind: 'sync',
          limits: { ...script.manifest.limits },
          context: {
            lastSyncDate: job.full ? null : (state.last_sync_date?.toISOString() ?? null),
            isFullRun: isFull,
            connection: { connection_id: connection.connection_id, provider: connection.provider, connection_config: connection.connection_config, metadata: connection.metadata },
            checkpoint: job.full ? null : state.checkpoint,
            ...(provider.pagination && { paginationDefaults: provider.pagination }),
          },
        }, bridge);
        await bridge.flush();
        if (result.ok) {
          await deps.sql.begin(async (tx) => {
            await deps.syncState.recordSuccess(tx, connection.id, job.syncName, run.started_at);
            await deps.runs.finish(run.id, { status: 'succeeded', usage: result.usage }, tx);
          });
          log.info({ runId: run.id, sync: job.syncName, connection: connection.connection_id, usage: result.usage }, 'sync run succeeded');
          return { status: 'succeeded', runId: run.id };
        }
        await deps.runs.finish(run.id, { status: 'failed', usage: result.usage, error: result.error });
        log.warn({ runId: run.id, sync: job.syncName, connection: connection.connection_id, error: result.error }, 'sync run failed');
        return { status: 'failed', runId: run.id, error: result.error };
      } catch (err) {
        // Only host faults land here (the runtime returns script faults as data).
        const error: RunError = { kind: 'internal', code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
        await bridge.flush();
        await deps.runs.finish(run.id, { status: 'failed', usage: { wallMs: 0, cpuMs: 0, peakHeapBytes: 0, bridgeBytes: 0, proxyCalls: bridge.calls.length }, error });
        log.error({ err, runId: run.id }, 'sync run failed in the host');
        return { status: 'failed', runId: run.id, error };
      } finally {
        clearInterval(heartbeat);
      }
    },
  };
}
export type SyncRunner = ReturnType<typeof createSyncRunner>;
