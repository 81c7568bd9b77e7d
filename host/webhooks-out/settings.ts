/** Per-environment settings the sync engine reads: the app's webhook and the run concurrency cap. */
import { randomBytes } from 'node:crypto';
import type { Sql } from '../db/connect.ts';

export interface EnvironmentSettings {
  webhook_url: string | null;
  /** Returned by the API only when it is set or rotated. */
  webhook_secret: string | null;
  max_concurrent_runs: number | null;
}

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export function createEnvironmentSettings(sql: Sql) {
  return {
    async get(environmentId: string): Promise<EnvironmentSettings> {
      const [row] = await sql<EnvironmentSettings[]>`
        select webhook_url, webhook_secret, max_concurrent_runs from environment_settings where environment_id = ${environmentId}`;
      return row ?? { webhook_url: null, webhook_secret: null, max_concurrent_runs: null };
    },

    /** Fields left undefined keep their value; a new webhook URL without a secret gets one generated. */
    async update(environmentId: string, patch: { webhook_url?: string | null; webhook_secret?: string | null; max_concurrent_runs?: number | null }): Promise<EnvironmentSettings> {
      const current = await this.get(environmentId);
      const next: EnvironmentSettings = {
        webhook_url: patch.webhook_url === undefined ? current.webhook_url : patch.webhook_url,
        webhook_secret: patch.webhook_secret === undefined ? current.webhook_secret : patch.webhook_secret,
        max_concurrent_runs: patch.max_concurrent_runs === undefined ? current.max_concurrent_runs : patch.max_concurrent_runs,
      };
      if (next.webhook_url && !next.webhook_secret) next.webhook_secret = generateWebhookSecret();
      await sql`
        insert into environment_settings (environment_id, webhook_url, webhook_secret, max_concurrent_runs, updated_at)
        values (${environmentId}, ${next.webhook_url}, ${next.webhook_secret}, ${next.max_concurrent_runs}, now())
        on conflict (environment_id) do update set webhook_url = excluded.webhook_url, webhook_secret = excluded.webhook_secret,
          max_concurrent_runs = excluded.max_concurrent_runs, updated_at = now()`;
      return next;
    },
  };
}
export type EnvironmentSettingsStore = ReturnType<typeof createEnvironmentSettings>;
