/**
 * What a deploy would change, worked out before anything is sent: the host's active scripts
 * (GET /scripts, with their content hashes and manifests) against the local bundles. Hashes are
 * the same sha256 the host computes, so "unchanged" here means unchanged there. Models come
 * from each bundle's manifest (read in the runtime, as the host does), so a renamed or dropped
 * model shows before apps lose it.
 */
import { z } from 'zod';
import { sharedModelWarnings, type DeployWarning } from '@ferry/host/deploy';
import type { Runtime } from '@ferry/runtime/contract';
import type { BundledScript } from './deploy.ts';
import { createHostClient } from './host-client.ts';

const ActiveScriptsSchema = z.object({
  scripts: z.array(z.object({
    name: z.string(),
    provider: z.string(),
    kind: z.enum(['sync', 'action']),
    hash: z.string(),
    manifest: z.looseObject({ models: z.array(z.string()).optional(), trackDeletes: z.boolean().optional() }),
  })),
});

/** `kept`: deployed, not in this project, and left deployed because removing was not agreed to (keepRemoved). */
export type PlannedStatus = 'new' | 'changed' | 'unchanged' | 'removed' | 'kept';

export interface DeployPlan {
  scripts: Array<{
    name: string; provider: string; kind: 'sync' | 'action'; status: PlannedStatus; models: string[]; addedModels: string[]; removedModels: string[];
    /** Syncs: whether a successful full run marks the records it did not see as deleted (`trackDeletes`). */
    detectsDeletes?: boolean;
  }>;
  /** Models that several syncs of one provider write. */
  warnings: DeployWarning[];
  /** Models no script will write any more / models written for the first time. */
  removedModels: string[];
  addedModels: string[];
  /** True when applying would change nothing (kept scripts change nothing). */
  empty: boolean;
}

const minus = (a: string[], b: string[]) => a.filter((x) => !b.includes(x));

/** `kept`: scripts left out of a partial deploy (they did not bundle): they stay as deployed, not removed. */
export async function planDeploy(bundled: BundledScript[], options: { url: string; key: string | undefined; runtime: Runtime; kept?: Array<{ provider: string; name: string }> }): Promise<DeployPlan> {
  const client = createHostClient({ url: options.url, key: options.key });
  const { scripts: active } = await client.request('GET', '/scripts', ActiveScriptsSchema);
  // Names are unique per provider only: figma/delete-comment and linear/delete-comment are two scripts.
  const key = (s: { provider: string; name: string }) => `${s.provider}/${s.name}`;
  const activeByKey = new Map(active.map((s) => [key(s), s]));
  const plan: DeployPlan['scripts'] = [];
  for (const bundle of bundled) {
    const current = activeByKey.get(key(bundle));
    const status: PlannedStatus = !current ? 'new' : current.hash === bundle.hash ? 'unchanged' : 'changed';
    const before = current?.manifest.models ?? [];
    let models = before;
    let trackDeletes = current?.manifest.trackDeletes === true;
    if (status !== 'unchanged') {
      const described = await options.runtime.describe(bundle.code);
      // A bundle that does not describe is reported by the host on apply, with its reason.
      models = described.ok ? (described.manifest.models ?? []) : before;
      if (described.ok) trackDeletes = described.manifest.type === 'sync' && described.manifest.trackDeletes;
    }
    plan.push({
      name: bundle.name, provider: bundle.provider, kind: bundle.kind, status, models, addedModels: minus(models, before), removedModels: minus(before, models),
      ...(bundle.kind === 'sync' && { detectsDeletes: trackDeletes }),
    });
  }
  const keys = new Set([...bundled, ...(options.kept ?? [])].map(key));
  for (const gone of active.filter((s) => !keys.has(key(s)))) {
    const before = gone.manifest.models ?? [];
    plan.push({ name: gone.name, provider: gone.provider, kind: gone.kind, status: 'removed', models: [], addedModels: [], removedModels: before });
  }
  const modelsBefore = [...new Set(active.flatMap((s) => s.manifest.models ?? []))];
  const modelsAfter = [...new Set(plan.flatMap((s) => s.models))];
  return {
    scripts: plan,
    warnings: sharedModelWarnings(plan.filter((s) => s.status !== 'removed')),
    addedModels: minus(modelsAfter, modelsBefore),
    removedModels: minus(modelsBefore, modelsAfter),
    empty: plan.every((s) => s.status === 'unchanged'),
  };
}

/**
 * The plan when removing was not agreed to (no --prune/--yes, no prompt): each script it would
 * remove stays deployed as it is, and so do the models only those scripts write.
 */
export function keepRemoved(plan: DeployPlan): DeployPlan {
  const scripts = plan.scripts.map((s) => (s.status === 'removed' ? { ...s, status: 'kept' as const, models: s.removedModels, removedModels: [] } : s));
  const keptModels = new Set(scripts.filter((s) => s.status === 'kept').flatMap((s) => s.models));
  return {
    scripts,
    warnings: sharedModelWarnings(scripts.filter((s) => s.status !== 'removed')),
    addedModels: plan.addedModels,
    removedModels: plan.removedModels.filter((m) => !keptModels.has(m)),
    empty: scripts.every((s) => s.status === 'unchanged' || s.status === 'kept'),
  };
}
