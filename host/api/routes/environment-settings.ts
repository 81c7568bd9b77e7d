/**
 * The environment's settings for the sync engine: where to POST change notifications (and the
 * secret that signs them) and how many runs it may have at once.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { Sql } from '../../db/connect.ts';
import { MAX_ENV_CONCURRENCY } from '../../queue/queue.ts';
import { LimitsSchema } from '@ferry/runtime/contract';
import { DEFAULT_LIMIT_CAPS } from '../../runs/run-limits.ts';
import { createEnvironmentSettings, generateWebhookSecret, type EnvironmentSettings } from '../../webhooks-out/settings.ts';
import type { ApiEnv } from '../app.ts';
import { jsonBody, parseInput } from '../errors.ts';
import { defineRoutes } from '../openapi/index.ts';

export interface EnvironmentSettingsRouteDeps {
  sql: Sql;
}

const SettingsPatch = z.strictObject({
  webhook_url: z.url({ protocol: /^https?$/ }).max(2000).nullable().optional(),
  /** true: generate a new signing secret (returned once, in this response). */
  rotate_webhook_secret: z.boolean().optional(),
  max_concurrent_runs: z.number().int().min(1).max(MAX_ENV_CONCURRENCY).nullable().optional(),
  /** Caps on the limits a script may declare; null restores the host's default cap. */
  max_memory_mb: LimitsSchema.shape.memoryMb.removeDefault().nullable().optional(),
  max_wall_time_ms: LimitsSchema.shape.wallTimeMs.removeDefault().nullable().optional(),
  max_cpu_time_ms: LimitsSchema.shape.cpuTimeMs.removeDefault().nullable().optional(),
});
const SettingsView = z.object({
  webhook_url: z.string().nullable(),
  webhook_secret_set: z.boolean(),
  webhook_secret: z.string().optional().describe('Only in the response that set or rotated it'),
  max_concurrent_runs: z.number().int().nullable(),
  limit_caps: z.object({ memoryMb: z.number().int(), wallTimeMs: z.number().int(), cpuTimeMs: z.number().int() }).describe('The caps in force: a deploy declaring more is refused, a run never gets more'),
});

export const environmentSettingsRouteSpecs = defineRoutes([
  { method: 'get', path: '/environment/settings', tag: 'environments', summary: "This environment's sync settings", responses: { 200: { description: 'Settings (the signing secret is never shown again)', schema: SettingsView } } },
  {
    method: 'put', path: '/environment/settings', tag: 'environments', body: SettingsPatch, summary: 'Set the webhook URL (a signing secret is generated with it), rotate the secret, cap concurrent runs',
    responses: { 200: { description: 'Settings, with the secret when it was just generated', schema: SettingsView } },
  },
]);

function view(s: EnvironmentSettings) {
  return {
    webhook_url: s.webhook_url, webhook_secret_set: s.webhook_secret !== null, max_concurrent_runs: s.max_concurrent_runs,
    limit_caps: {
      memoryMb: s.max_memory_mb ?? DEFAULT_LIMIT_CAPS.memoryMb, wallTimeMs: s.max_wall_time_ms ?? DEFAULT_LIMIT_CAPS.wallTimeMs, cpuTimeMs: s.max_cpu_time_ms ?? DEFAULT_LIMIT_CAPS.cpuTimeMs,
    },
  };
}

export function environmentSettingsRoutes(deps: EnvironmentSettingsRouteDeps) {
  const app = new Hono<ApiEnv>();
  const settings = createEnvironmentSettings(deps.sql);

  app.get('/environment/settings', async (c) => {
    const s = await settings.get(String(c.get('environment').id));
    return c.json(view(s));
  });

  app.put('/environment/settings', async (c) => {
    const body = parseInput(SettingsPatch, await jsonBody(c), 'body');
    const environmentId = String(c.get('environment').id);
    const before = await settings.get(environmentId);
    const s = await settings.update(environmentId, {
      ...(body.webhook_url !== undefined && { webhook_url: body.webhook_url }),
      ...(body.rotate_webhook_secret && { webhook_secret: generateWebhookSecret() }),
      ...(body.max_concurrent_runs !== undefined && { max_concurrent_runs: body.max_concurrent_runs }),
      ...(body.max_memory_mb !== undefined && { max_memory_mb: body.max_memory_mb }),
      ...(body.max_wall_time_ms !== undefined && { max_wall_time_ms: body.max_wall_time_ms }),
      ...(body.max_cpu_time_ms !== undefined && { max_cpu_time_ms: body.max_cpu_time_ms }),
    });
    const secretIsNew = s.webhook_secret !== null && s.webhook_secret !== before.webhook_secret;
    return c.json({
      ...view(s),
      ...(secretIsNew && { webhook_secret: s.webhook_secret }),
    });
  });

  return app;
}
