/**
 * Deploy versions as history: list them, show what each left active, and roll back to one.
 * A rollback is itself a new version (rollback_of = the version restored) that re-activates
 * that version's script rows, so history stays linear and the next deploy diffs against it;
 * schedules follow the restored syncs (ensureForSync) and syncs absent from it are removed.
 */
import type { Sql, TransactionSql } from '../db/connect.ts';
import type { SyncState } from '../sync/sync-state.ts';
import type { DeployResult, ScriptChange } from './deploy.ts';
import { scriptKey } from './script-address.ts';
import { restartSplitPasses, splitChanged } from './split-change.ts';
import type { StoredManifest } from './scripts.ts';

export interface DeploySummary {
  version: number;
  created_at: Date;
  rollback_of: number | null;
  active: boolean;
  scripts: number;
}

export interface DeployedScript {
  id: string;
  name: string;
  provider: string;
  kind: 'sync' | 'action';
  hash: string;
  /** The version that first deployed this code. */
  version: number;
  manifest: StoredManifest;
}

/** Serialises deploys and rollbacks of one environment so versions and "active" flags stay consistent. */
export async function lockDeploys(tx: TransactionSql, environmentId: string): Promise<void> {
  await tx`select pg_advisory_xact_lock(hashtext('ferry-deploy'), ${Number(environmentId)}::int)`;
}

/** Remembers every script a version left active, so a rollback can restore exactly that set. */
export async function recordActiveSet(tx: TransactionSql, environmentId: string, deploymentId: string): Promise<void> {
  await tx`
    insert into deployment_scripts (deployment_id, script_id)
    select ${deploymentId}, id from scripts where environment_id = ${environmentId} and active`;
}

export type RollbackResult = Omit<DeployResult, 'warnings' | 'failed'> & { rollback_of: number | null };

async function scriptsOf(tx: Sql | TransactionSql, deploymentId: string): Promise<DeployedScript[]> {
  return tx<DeployedScript[]>`
    select s.id, s.name, s.provider, s.kind, s.hash, d.version, s.manifest
    from deployment_scripts ds join scripts s on s.id = ds.script_id join deployments d on d.id = s.deployment_id
    where ds.deployment_id = ${deploymentId} order by s.name, s.provider`;
}

export function createDeployHistory(deps: { sql: Sql; syncState: SyncState }) {
  const { sql } = deps;

  return {
    async list(environmentId: string): Promise<DeploySummary[]> {
      return sql<DeploySummary[]>`
        select d.version, d.created_at, d.rollback_of,
          d.version = max(d.version) over () as active,
          (select count(*)::int from deployment_scripts ds where ds.deployment_id = d.id) as scripts
        from deployments d where d.environment_id = ${environmentId} order by d.version desc`;
    },

    async get(environmentId: string, version: number): Promise<(Omit<DeploySummary, 'scripts'> & { scripts: DeployedScript[] }) | null> {
      const [row] = await sql<Array<{ id: string; version: number; created_at: Date; rollback_of: number | null; active: boolean }>>`
        select d.id, d.version, d.created_at, d.rollback_of,
          d.version = (select max(version) from deployments where environment_id = ${environmentId}) as active
        from deployments d where d.environment_id = ${environmentId} and d.version = ${version}`;
      if (!row) return null;
      const { id, ...summary } = row;
      return { ...summary, scripts: await scriptsOf(sql, id) };
    },

    /** null when the environment has no such version. */
    async rollback(environmentId: string, version: number): Promise<RollbackResult | null> {
      return sql.begin(async (tx) => {
        await lockDeploys(tx, environmentId);
        const [target] = await tx<{ id: string }[]>`select id from deployments where environment_id = ${environmentId} and version = ${version}`;
        if (!target) return null;
        const restored = await scriptsOf(tx, target.id);
        const current = await tx<Array<{ id: string; name: string; provider: string; kind: 'sync' | 'action'; hash: string; manifest: StoredManifest }>>`
          select id, name, provider, kind, hash, manifest from scripts where environment_id = ${environmentId} and active`;
        const [latest] = await tx<{ version: number }[]>`select max(version) as version from deployments where environment_id = ${environmentId}`;

        const currentByKey = new Map(current.map((c) => [scriptKey(c), c]));
        const restoredKeys = new Set(restored.map(scriptKey));
        const scripts: DeployResult['scripts'] = restored.map((r) => {
          const now = currentByKey.get(scriptKey(r));
          const status: ScriptChange = !now ? 'new' : now.id === r.id ? 'unchanged' : 'changed';
          return { name: r.name, provider: r.provider, kind: r.kind, status };
        });
        const removed = current.filter((c) => !restoredKeys.has(scriptKey(c)));
        for (const r of removed) scripts.push({ name: r.name, provider: r.provider, kind: r.kind, status: 'removed' });
        if (removed.length === 0 && scripts.every((s) => s.status === 'unchanged')) {
          return { version: latest!.version, rollback_of: null, scripts };
        }

        const next = latest!.version + 1;
        const [deployment] = await tx<{ id: string }[]>`
          insert into deployments (environment_id, version, rollback_of) values (${environmentId}, ${next}, ${version}) returning id`;
        const ids = restored.map((r) => r.id);
        await tx`update scripts set active = false where environment_id = ${environmentId} and active and not (id = any(${ids}::bigint[]))`;
        await tx`update scripts set active = true where id = any(${ids}::bigint[]) and not active`;
        await recordActiveSet(tx, environmentId, deployment!.id);

        // Schedules follow the restored syncs; a sync the version did not have loses its state.
        // A restored sync that splits differently from the one it replaces restarts its
        // unfinished split passes, as a deploy does (split-change.ts): a pass never mixes parts
        // of two definitions, nor goes on as parts under a version without a split.
        for (const r of restored) {
          if (r.manifest.type !== 'sync') continue;
          await deps.syncState.ensureForSync(tx, {
            environmentId, provider: r.provider, syncName: r.name, frequencyMs: r.manifest.frequencyMs!, autoStart: r.manifest.autoStart,
          });
          const now = currentByKey.get(scriptKey(r));
          if (now && now.id !== r.id && now.manifest.type === 'sync'
            && splitChanged({ split: now.manifest.split, hash: now.hash }, { split: r.manifest.split, hash: r.hash })) {
            await restartSplitPasses(tx, { environmentId, provider: r.provider, syncName: r.name });
          }
        }
        const restoredSyncs = new Set(restored.filter((r) => r.kind === 'sync').map(scriptKey));
        for (const c of current) {
          if (c.kind === 'sync' && !restoredSyncs.has(scriptKey(c))) await deps.syncState.removeSync(tx, { environmentId, provider: c.provider, syncName: c.name });
        }
        return { version: next, rollback_of: version, scripts };
      });
    },
  };
}
export type DeployHistory = ReturnType<typeof createDeployHistory>;
