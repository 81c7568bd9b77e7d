/** Per-environment settings the sync engine reads: the app's webhook and the run concurrency cap. */
import { randomBytes } from 'node:crypto';
import type { Sql } from '../db/connect.ts';

export interface EnvironmentSettings {
  webhook_url: string | null;
  /** Returned by the API only when it is set or rotated. */
  webhook_secret: string | null;
  max_concurrent_runs: number | null;
  /** Caps on the limits scripts may declare (null: the host's default cap, see host/runs/run-limits.ts). */
  max_memory_mb: number | null;
  max_wall_time_ms: number | null;
  max_cpu_time_ms: number | null;
}

type Patch = { [K in keyof EnvironmentSettings]?: EnvironmentSettings[K] };

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export function createEnvironmentSettings(sql: Sql) {
  return {
    async get(environmentId: string): Promise<EnvironmentSettings> {
      const [row] = await sql<EnvironmentSettings[]>`
        select webhook_url, webhook_secret, max_concurrent_runs, max_memory_mb, max_wall_time_ms, max_cpu_time_ms
        from environment_settings where environment_id = ${environmentId}`;
      return row ?? { webhook_url: null, webhook_secret: null, max_concurrent_runs: null, max_memory_mb: null, max_wall_time_ms: null, max_cpu_time_ms: null };
    },

    /** Fields left undefined keep their value; a new webhook URL without a secret gets one generated. */
    async update(environmentId: string, patch: Patch): Promise<EnvironmentSettings> {
      const current = await this.get(environmentId);
      const next: EnvironmentSettings = { ...current, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) };
      if (next.webhook_url && !next.webhook_secret) next.webhook_secret = generateWebhookSecret();
      await sql`
        insert into environment_settings (environment_id, webhook_url, webhook_secret, max_concurrent_runs, max_memory_mb, max_wall_time_ms, max_cpu_time_ms, updated_at)
        values (${environmentId}, ${next.webhook_url}, ${next.webhook_secret}, ${next.max_concurrent_runs}, ${next.max_memory_mb}, ${next.max_wall_time_ms}, ${next.max_cpu_time_ms}, now())
        on conflict (environment_id) do update set webhook_url = excluded.webhook_url, webhook_secret = excluded.webhook_secret,
          max_concurrent_runs = excluded.max_concurrent_runs, max_memory_mb = excluded.max_memory_mb,
          max_wall_time_ms = excluded.max_wall_time_ms, max_cpu_time_ms = excluded.max_cpu_time_ms, updated_at = now()`;
      return next;
    },
  };
}
export type EnvironmentSettingsStore = ReturnType<typeof createEnvironmentSettings>;
