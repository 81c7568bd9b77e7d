/**
 * Settles one incoming webhook delivery: finds the connection the payload names, then runs the
 * `onWebhook` of every active sync of that provider subscribed to the event, each as a run of
 * kind 'webhook' with the sync's context, so it can save records for that connection.
 */
import type { RunError, Runtime } from '../../runtime/contract.ts';
import type { ConnectionRow } from '../connections/connections.ts';
import type { Providers } from '../connections/providers.ts';
import type { ScriptRow, Scripts } from '../deploy/scripts.ts';
import type { Sql } from '../db/connect.ts';
import { createRunBridge, type RunBridgeDeps } from '../sync/run-bridge.ts';
import type { ProviderWebhooks } from './provider-webhooks.ts';
import { readScalar } from './verify.ts';

export interface WebhookDelivery {
  environmentId: string;
  provider: string;
  /** Event type read at receipt (header or payload); null when the provider's config names none. */
  event: string | null;
  payload: unknown;
  receivedAt: string;
}

export interface WebhookRunnerDeps extends RunBridgeDeps {
  runtime: Runtime;
  scripts: Scripts;
  providers: Providers;
  providerWebhooks: ProviderWebhooks;
}

export type WebhookOutcome =
  | { status: 'ignored'; reason: string }
  | { status: 'routed'; connectionId: string; runs: Array<{ sync: string; runId: string; ok: boolean; error?: RunError }> };

const NO_USAGE = { wallMs: 0, cpuMs: 0, peakHeapBytes: 0, bridgeBytes: 0, proxyCalls: 0 };

/** True when a sync's subscriptions take this event ('*' takes every event). */
export function subscribes(subscriptions: readonly string[] | undefined, event: string | null): boolean {
  if (!subscriptions) return false;
  return subscriptions.includes('*') || (event !== null && subscriptions.includes(event));
}

async function startWebhookRun(sql: Sql, connectionId: string, script: ScriptRow): Promise<{ id: string }> {
  // The runs module's start() knows syncs and actions; a webhook run is the same row with its own kind.
  const [row] = await sql<{ id: string }[]>`
    insert into runs (connection_id, script_name, kind, script_version, status, trigger, is_full)
    values (${connectionId}, ${script.name}, 'webhook', ${script.version}, 'running', 'webhook', false)
    returning id`;
  return row!;
}

export function createWebhookRunner(deps: WebhookRunnerDeps) {
  const log = deps.logger.child({ module: 'webhook-runner' });

  async function runOne(delivery: WebhookDelivery, connection: ConnectionRow, script: ScriptRow) {
    const provider = await deps.providers.get(delivery.environmentId, connection.provider);
    if (!provider) return null;
    const run = await startWebhookRun(deps.sql, connection.id, script);
    const models = script.manifest.type === 'sync' ? script.manifest.models : [];
    // No checkpoint access: a webhook must not move a sync's resumable position.
    const bridge = createRunBridge(deps, { runId: run.id, connection, provider, credentials: await deps.connections.credentials(connection.id), models, syncName: null });
    const state = await deps.syncState.get(connection.id, script.name);
    try {
      const result = await deps.runtime.run({
        runId: run.id,
        code: script.code,
        kind: 'webhook',
        input: delivery.payload,
        limits: { ...script.manifest.limits },
        context: {
          lastSyncDate: state?.last_sync_date?.toISOString() ?? null,
          isFullRun: false,
          connection: { connection_id: connection.connection_id, provider: connection.provider, connection_config: connection.connection_config, metadata: connection.metadata },
          checkpoint: null,
        },
      }, bridge);
      await bridge.flush();
      await deps.runs.finish(run.id, result.ok ? { status: 'succeeded', usage: result.usage } : { status: 'failed', usage: result.usage, error: result.error });
      return result.ok ? { sync: script.name, runId: run.id, ok: true } : { sync: script.name, runId: run.id, ok: false, error: result.error };
    } catch (err) {
      const error: RunError = { kind: 'internal', code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
      await bridge.flush();
      await deps.runs.finish(run.id, { status: 'failed', usage: { ...NO_USAGE, proxyCalls: bridge.calls.length }, error });
      log.error({ err, runId: run.id }, 'webhook run failed in the host');
      return { sync: script.name, runId: run.id, ok: false, error };
    }
  }

  return {
    async process(delivery: WebhookDelivery): Promise<WebhookOutcome> {
      const config = await deps.providerWebhooks.get(delivery.environmentId, delivery.provider);
      if (!config) return { status: 'ignored', reason: 'the provider has no webhook configuration any more' };
      const connectionId = readScalar(delivery.payload, config.connection_id_path);
      const connection = connectionId ? await deps.connections.get(delivery.environmentId, connectionId) : null;
      if (!connection || connection.provider !== delivery.provider) {
        log.warn({ provider: delivery.provider, connectionId, event: delivery.event }, 'webhook names no known connection of this provider: ignored');
        return { status: 'ignored', reason: `no ${delivery.provider} connection "${connectionId ?? '(none)'}"` };
      }
      const active = await deps.scripts.listActive(delivery.environmentId);
      const subscribed = active.filter((s) => s.provider === delivery.provider && s.manifest.type === 'sync' && subscribes(s.manifest.webhookSubscriptions, delivery.event));
      const runs: Array<{ sync: string; runId: string; ok: boolean; error?: RunError }> = [];
      for (const summary of subscribed) {
        const script = await deps.scripts.getActive(delivery.environmentId, summary.name);
        if (!script) continue;
        const done = await runOne(delivery, connection, script);
        if (done) runs.push(done);
      }
      log.info({ provider: delivery.provider, connection: connection.connection_id, event: delivery.event, runs: runs.length }, 'webhook routed');
      return { status: 'routed', connectionId: connection.connection_id, runs };
    },
  };
}
export type WebhookRunner = ReturnType<typeof createWebhookRunner>;
