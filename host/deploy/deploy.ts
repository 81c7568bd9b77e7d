/**
 * Deploying a set of bundled scripts: each bundle is evaluated in a throwaway isolate to read
 * its definition, then the whole set lands in one transaction. Idempotent by content hash:
 * deploying the same bundles again creates no version.
 */
import { z } from 'zod';
import { bundleHash } from '@ferry/runtime/bundle-hash';
import { scriptLoadProblem, type Runtime } from '@ferry/runtime/contract';
import { MAX_SOURCE_MAP_BYTES, locateRunError, readSourceMap, sourceMapProblem } from '@ferry/runtime/source-map';
import type { Sql } from '../db/connect.ts';
import { environmentLimitCaps, limitsOverCaps, type LimitCaps } from '../runs/run-limits.ts';
import { parseFrequency } from '../sync/frequency.ts';
import { planWindows } from '../sync/parts.ts';
import type { SyncState } from '../sync/sync-state.ts';
import { createDeployHistory, lockDeploys, recordActiveSet } from './history.ts';
import { SCRIPT_NAME_PATTERN, scriptKey } from './script-address.ts';
import { restartSplitPasses, splitChanged } from './split-change.ts';
import type { StoredManifest } from './scripts.ts';

export const DeployRequestSchema = z.strictObject({
  scripts: z.array(z.strictObject({
    name: z.string().regex(SCRIPT_NAME_PATTERN, 'lowercase letters, digits, - and _ (the file name)'),
    provider: z.string().min(1).max(63),
    kind: z.enum(['sync', 'action']),
    code: z.string().min(1).max(5 * 1024 * 1024),
    /** The bundle's source map (version 3 JSON text): run errors are mapped through it to the script's files. */
    source_map: z.string().max(MAX_SOURCE_MAP_BYTES).superRefine((text, ctx) => {
      const problem = sourceMapProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }).optional(),
    hash: z.string().optional(),
  })).max(500),
  /**
   * A script the host cannot read (its definition fails, it exceeds a limit cap…) is left out and
   * reported in `failed` instead of refusing the whole deploy; its active version stays.
   */
  partial: z.boolean().optional(),
  /** Scripts the client could not bundle (a partial deploy): their active version stays, not removed. */
  keep: z.array(z.strictObject({ provider: z.string().min(1).max(63), name: z.string().regex(SCRIPT_NAME_PATTERN) })).max(500).optional(),
});
export type DeployRequest = z.infer<typeof DeployRequestSchema>;

export type ScriptChange = 'new' | 'changed' | 'unchanged' | 'removed';

export interface DeployWarning {
  code: 'MODEL_SHARED';
  provider: string;
  model: string;
  syncs: string[];
  message: string;
}

export interface DeployResult {
  version: number;
  scripts: Array<{ name: string; provider: string; kind: 'sync' | 'action'; status: ScriptChange }>;
  /** Allowed but worth knowing: a model written by several syncs of one provider. */
  warnings: DeployWarning[];
  /** A partial deploy: the scripts left out, each with why (their active version, if any, stays). */
  failed: Array<{ name: string; provider: string; message: string }>;
}

/**
 * Two syncs of one provider declaring the same model write the same records of a connection.
 * That works (each sync's delete detection only concerns the records it wrote, and a record is
 * deleted only when no sync that wrote it still sees it), but it is rarely meant: say so.
 */
export function sharedModelWarnings(scripts: Array<{ name: string; provider: string; kind: 'sync' | 'action'; models: readonly string[] }>): DeployWarning[] {
  const writers = new Map<string, { provider: string; model: string; syncs: string[] }>();
  for (const s of scripts) {
    if (s.kind !== 'sync') continue;
    for (const model of s.models) {
      const key = JSON.stringify([s.provider, model]);
      const entry = writers.get(key) ?? { provider: s.provider, model, syncs: [] };
      entry.syncs.push(s.name);
      writers.set(key, entry);
    }
  }
  return [...writers.values()].filter((w) => w.syncs.length > 1).map((w) => ({
    code: 'MODEL_SHARED', ...w,
    message: `syncs ${w.syncs.join(' and ')} (provider ${w.provider}) both write model ${w.model}: each deletes only records it wrote itself; a record both wrote is deleted when neither still sees it`,
  }));
}

export class DeployError extends Error {
  readonly code = 'INVALID_SCRIPT';
  readonly issues: Array<{ path: string[]; message: string }>;
  constructor(issues: Array<{ path: string[]; message: string }>) {
    super(`${issues.length} script(s) cannot be deployed: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    this.issues = issues;
  }
}

export function createDeployer(deps: { sql: Sql; runtime: Runtime; syncState: SyncState }) {
  const { sql } = deps;

  /** Each script's manifest, or the issues that keep it from deploying. */
  async function readManifest(script: DeployRequest['scripts'][number], path: string[], caps: LimitCaps) {
    const described = await deps.runtime.describe(script.code);
    if (!described.ok) {
      // A top level that throws is reported where it threw in the author's file.
      const located = locateRunError(described.error, readSourceMap(script.source_map));
      return { manifest: null, issues: [{ path, message: scriptLoadProblem(located, `${script.provider}/${script.kind}s/${script.name}`) }] };
    }
    const issues: Array<{ path: string[]; message: string }> = [];
    const manifest: StoredManifest = described.manifest;
    if (manifest.type !== script.kind) issues.push({ path, message: `declared as ${script.kind} but the bundle defines a ${manifest.type}` });
    for (const over of limitsOverCaps(manifest.limits, caps)) issues.push({ path: [...path, 'limits', over.limit], message: over.message });
    if (manifest.type === 'sync') {
      try {
        manifest.frequencyMs = parseFrequency(manifest.frequency);
      } catch (err) {
        issues.push({ path, message: (err as Error).message });
      }
      // A split that cannot be planned (a bad date or duration, too many parts) is refused now, not at the first sync.
      if (manifest.split?.by === 'time') {
        try {
          planWindows(manifest.split, new Date());
        } catch (err) {
          issues.push({ path: [...path, 'split'], message: (err as Error).message });
        }
      }
    }
    return { manifest, issues };
  }

  return {
    ...createDeployHistory(deps),

    async deploy(environmentId: string, request: DeployRequest): Promise<DeployResult> {
      const keys = new Set<string>();
      for (const s of request.scripts) {
        if (keys.has(scriptKey(s))) throw new DeployError([{ path: ['scripts', scriptKey(s)], message: `two scripts of provider ${s.provider} share this name` }]);
        keys.add(scriptKey(s));
      }
      const caps = await environmentLimitCaps(sql, environmentId);
      const issues: Array<{ path: string[]; message: string }> = [];
      const failed: DeployResult['failed'] = [];
      const deployable: Array<{ script: DeployRequest['scripts'][number]; manifest: StoredManifest }> = [];
      for (const [i, script] of request.scripts.entries()) {
        const read = await readManifest(script, ['scripts', String(i), script.name], caps);
        if (read.issues.length === 0) deployable.push({ script, manifest: read.manifest! });
        else if (request.partial) failed.push({ name: script.name, provider: script.provider, message: read.issues.map((x) => x.message).join('; ') });
        else issues.push(...read.issues);
      }
      if (issues.length > 0) throw new DeployError(issues);
      // Left out of this deploy but not removed: whatever version of them is active stays.
      const kept = new Set([...failed, ...(request.keep ?? [])].map(scriptKey));
      const warnings = sharedModelWarnings(deployable.map(({ script: s, manifest }) => ({ name: s.name, provider: s.provider, kind: s.kind, models: manifest.models ?? [] })));

      return sql.begin(async (tx) => {
        await lockDeploys(tx, environmentId);
        const current = await tx<{ id: string; name: string; provider: string; kind: 'sync' | 'action'; hash: string; manifest: StoredManifest }[]>`
          select id, name, provider, kind, hash, manifest from scripts where environment_id = ${environmentId} and active`;
        const currentByKey = new Map(current.map((c) => [scriptKey(c), c]));
        const result: DeployResult['scripts'] = [];
        const changed: Array<(typeof deployable)[number] & { hash: string }> = [];
        for (const entry of deployable) {
          const s = entry.script;
          const hash = bundleHash(s.code, s.source_map);
          const prev = currentByKey.get(scriptKey(s));
          const status: ScriptChange = !prev ? 'new' : prev.hash === hash ? 'unchanged' : 'changed';
          if (status !== 'unchanged') changed.push({ ...entry, hash });
          result.push({ name: s.name, provider: s.provider, kind: s.kind, status });
        }
        const removed = current.filter((c) => !keys.has(scriptKey(c)) && !kept.has(scriptKey(c)));
        for (const r of removed) result.push({ name: r.name, provider: r.provider, kind: r.kind, status: 'removed' });

        const [latest] = await tx<{ version: number | null }[]>`select max(version) as version from deployments where environment_id = ${environmentId}`;
        if (changed.length === 0 && removed.length === 0) return { version: latest?.version ?? 0, scripts: result, warnings, failed };

        const version = (latest?.version ?? 0) + 1;
        const [deployment] = await tx<{ id: string }[]>`
          insert into deployments (environment_id, version) values (${environmentId}, ${version}) returning id`;
        const replaced = changed.map((c) => currentByKey.get(scriptKey(c.script))?.id).filter((id) => id !== undefined);
        const touched = [...replaced, ...removed.map((r) => r.id)];
        await tx`update scripts set active = false where id = any(${touched}::bigint[])`;
        for (const { script: s, manifest, hash } of changed) {
          await tx`
            insert into scripts (environment_id, deployment_id, name, provider, kind, code, source_map, hash, manifest)
            values (${environmentId}, ${deployment!.id}, ${s.name}, ${s.provider}, ${s.kind}, ${s.code}, ${s.source_map ?? null}, ${hash}, ${JSON.stringify(manifest)}::text::jsonb)`;
          if (manifest.type === 'sync') {
            await deps.syncState.ensureForSync(tx, {
              environmentId, provider: s.provider, syncName: s.name, frequencyMs: manifest.frequencyMs!, autoStart: manifest.autoStart,
            });
            const prev = currentByKey.get(scriptKey(s));
            const before = prev?.manifest.type === 'sync' ? { split: prev.manifest.split, hash: prev.hash } : null;
            if (before && splitChanged(before, { split: manifest.split, hash })) {
              await restartSplitPasses(tx, { environmentId, provider: s.provider, syncName: s.name });
            }
          }
        }
        for (const r of removed) if (r.kind === 'sync') await deps.syncState.removeSync(tx, { environmentId, provider: r.provider, syncName: r.name });
        await recordActiveSet(tx, environmentId, deployment!.id);
        return { version, scripts: result, warnings, failed };
      });
    },
  };
}
export type Deployer = ReturnType<typeof createDeployer>;
