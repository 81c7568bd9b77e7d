/**
 * Settles one incoming webhook delivery: finds the connection the payload names, then runs the
 * `onWebhook` of every active sync of that provider subscribed to the event, each as a run of
 * kind 'webhook' with the sync's context, so it can save records for that connection.
 */
import type { RunError, Runtime } from '@ferry/runtime/contract';
import { clipText } from '../clip-text.ts';
import type { ConnectionRow } from '../connections/connections.ts';
import type { Providers } from '../connections/providers.ts';
import type { ScriptRow, Scripts } from '../deploy/scripts.ts';
import { retryTransient, SETTLE_RETRY_MS } from '../db/transient.ts';
import { executeRun } from '../runs/execute-run.ts';
import { limitsFor } from '../runs/run-limits.ts';
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
  /** The first queue job's id, kept when the delivery is queued again: its runs carry it (runs_webhook_once). */
  deliveryId?: string;
}

export interface WebhookRunnerDeps extends RunBridgeDeps {
  runtime: Runtime;
  scripts: Scripts;
  providers: Providers;
  providerWebhooks: ProviderWebhooks;
  /** How often a running webhook run heartbeats (well within FERRY_STALE_RUN_MS). */
  heartbeatMs?: number;
}

export type WebhookOutcome =
  | { status: 'ignored'; reason: string }
  | { status: 'routed'; connectionId: string; runs: Array<{ sync: string; runId: string; ok: boolean; error?: RunError }> };

/** True when a sync's subscriptions take this event ('*' takes every event). */
export function subscribes(subscriptions: readonly string[] | undefined, event: string | null): boolean {
  if (!subscriptions) return false;
  return subscriptions.includes('*') || (event !== null && subscriptions.includes(event));
}

export function createWebhookRunner(deps: WebhookRunnerDeps) {
  const log = deps.logger.child({ module: 'webhook-runner' });

  /** Null when the sync is not run: no provider configured, or this delivery already ran it. */
  async function runOne(delivery: WebhookDelivery, deliveryId: string, connection: ConnectionRow, script: ScriptRow) {
    // Every read before the run row: a lost database there has started nothing.
    const provider = await deps.providers.get(delivery.environmentId, connection.provider);
    if (!provider) return null;
    const state = await deps.syncState.get(connection.id, script.name);
    const limits = await limitsFor(deps.sql, connection.environment_id, script.manifest.limits);
    const run = await retryTransient(() => deps.runs.start({
      connectionId: connection.id, scriptName: script.name, kind: 'webhook', scriptVersion: script.version, trigger: 'webhook', isFull: false, jobId: deliveryId,
    }));
    if (!run) return null;
    const models = script.manifest.type === 'sync' ? script.manifest.models : [];
    // No checkpoint access: a webhook must not move a sync's resumable position.
    // The records it saves are the sync's own (delete detection of that sync covers them).
    const bridge = createRunBridge(deps, { runId: run.id, script, connection, provider, models, syncName: null, writer: script.name });
    const result = await executeRun(deps, {
      runId: run.id, kind: 'webhook', script, connection, provider, bridge, limits, input: delivery.payload, lastSyncDate: state?.last_sync_date ?? null,
    });
    // Given up, the run is left to the stale sweep; the delivery queued again does not repeat it.
    await retryTransient(() => deps.runs.finish(run.id, result.ok ? { status: 'succeeded', usage: result.usage } : { status: 'failed', usage: result.usage, error: result.error }), SETTLE_RETRY_MS);
    return result.ok ? { sync: script.name, runId: run.id, ok: true } : { sync: script.name, runId: run.id, ok: false, error: result.error };
  }

  return {
    /**
     * Safe to repeat for the same `deliveryId`: a sync it already ran for that delivery is not run
     * again, so a delivery whose processing lost the database is simply queued again.
     */
    async process(delivery: WebhookDelivery, deliveryId: string): Promise<WebhookOutcome> {
      const config = await deps.providerWebhooks.get(delivery.environmentId, delivery.provider);
      if (!config) return { status: 'ignored', reason: 'the provider has no webhook configuration any more' };
      const connectionId = readScalar(delivery.payload, config.connection_id_path);
      // No connection id is longer (ConnectionIdSchema): a longer one is not looked up, and what
      // the payload sent is cut in the log and the job's outcome, which a signed payload of
      // megabytes would otherwise fill.
      const connection = connectionId && connectionId.length <= MAX_CONNECTION_ID ? await deps.connections.get(delivery.environmentId, connectionId) : null;
      if (!connection || connection.provider !== delivery.provider) {
        const named = connectionId === null ? '(none)' : clipText(connectionId, SHOWN_CHARS);
        log.warn({ provider: delivery.provider, connectionId: named, event: delivery.event === null ? null : clipText(delivery.event, SHOWN_CHARS) }, 'webhook names no known connection of this provider: ignored');
        return { status: 'ignored', reason: `no ${delivery.provider} connection "${named}"` };
      }
      const active = await deps.scripts.listActive(delivery.environmentId);
      const subscribed = active.filter((s) => s.provider === delivery.provider && s.manifest.type === 'sync' && subscribes(s.manifest.webhookSubscriptions, delivery.event));
      const runs: Array<{ sync: string; runId: string; ok: boolean; error?: RunError }> = [];
      for (const summary of subscribed) {
        const script = await deps.scripts.getActive(delivery.environmentId, summary.provider, summary.name);
        if (!script) continue;
        const done = await runOne(delivery, deliveryId, connection, script);
        if (done) runs.push(done);
      }
      log.info({ provider: delivery.provider, connection: connection.connection_id, event: delivery.event === null ? null : clipText(delivery.event, SHOWN_CHARS), runs: runs.length }, 'webhook routed');
      return { status: 'routed', connectionId: connection.connection_id, runs };
    },
  };
}
export type WebhookRunner = ReturnType<typeof createWebhookRunner>;

const MAX_CONNECTION_ID = 255;
/** Payload text as far as a log line or an outcome needs it. */
const SHOWN_CHARS = 200;
