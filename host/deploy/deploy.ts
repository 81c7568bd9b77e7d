/**
 * Deploying a set of bundled scripts: each bundle is evaluated in a throwaway isolate to read
 * its definition, then the whole set lands in one transaction. Idempotent by content hash:
 * deploying the same bundles again creates no version.
 */
import { z } from 'zod';
import { bundleHash } from '@ferry/runtime/bundle-hash';
import { formatLocation, type Runtime } from '@ferry/runtime/contract';
import { MAX_SOURCE_MAP_BYTES, locateRunError, readSourceMap, sourceMapProblem } from '@ferry/runtime/source-map';
import type { Sql } from '../db/connect.ts';
import { environmentLimitCaps, limitsOverCaps, type LimitCaps } from '../runs/run-limits.ts';
import { parseFrequency } from '../sync/frequency.ts';
import type { SyncState } from '../sync/sync-state.ts';
import { createDeployHistory, lockDeploys, recordActiveSet } from './history.ts';
import type { StoredManifest } from './scripts.ts';

export const DeployRequestSchema = z.strictObject({
  scripts: z.array(z.strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,99}$/, 'lowercase letters, digits, - and _ (the file name)'),
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
  scripts: Array<{ name: string; kind: 'sync' | 'action'; status: ScriptChange }>;
  /** Allowed but worth knowing: a model written by several syncs of one provider. */
  warnings: DeployWarning[];
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

  async function readManifests(request: DeployRequest, caps: LimitCaps): Promise<StoredManifest[]> {
    const issues: Array<{ path: string[]; message: string }> = [];
    const manifests: StoredManifest[] = [];
    for (const [i, script] of request.scripts.entries()) {
      const described = await deps.runtime.describe(script.code);
      const path = ['scripts', String(i), script.name];
      if (!described.ok) {
        // A top level that throws is reported where it threw in the author's file.
        const { message, location } = locateRunError(described.error, readSourceMap(script.source_map));
        issues.push({ path, message: location ? `${message} (at ${formatLocation(location)})` : message });
        continue;
      }
      const manifest: StoredManifest = described.manifest;
      if (manifest.type !== script.kind) issues.push({ path, message: `declared as ${script.kind} but the bundle defines a ${manifest.type}` });
      for (const over of limitsOverCaps(manifest.limits, caps)) issues.push({ path: [...path, 'limits', over.limit], message: over.message });
      if (manifest.type === 'sync') {
        try {
          manifest.frequencyMs = parseFrequency(manifest.frequency);
        } catch (err) {
          issues.push({ path, message: (err as Error).message });
        }
      }
      manifests.push(manifest);
    }
    if (issues.length > 0) throw new DeployError(issues);
    return manifests;
  }

  return {
    ...createDeployHistory(deps),

    async deploy(environmentId: string, request: DeployRequest): Promise<DeployResult> {
      const names = new Set<string>();
      for (const s of request.scripts) {
        if (names.has(s.name)) throw new DeployError([{ path: ['scripts', s.name], message: 'two scripts share this name' }]);
        names.add(s.name);
      }
      const manifests = await readManifests(request, await environmentLimitCaps(sql, environmentId));
      const hashes = request.scripts.map((s) => bundleHash(s.code, s.source_map));
      const warnings = sharedModelWarnings(request.scripts.map((s, i) => ({ name: s.name, provider: s.provider, kind: s.kind, models: manifests[i]!.models ?? [] })));

      return sql.begin(async (tx) => {
        await lockDeploys(tx, environmentId);
        const current = await tx<{ name: string; kind: 'sync' | 'action'; hash: string }[]>`
          select name, kind, hash from scripts where environment_id = ${environmentId} and active`;
        const currentByName = new Map(current.map((c) => [c.name, c]));
        const result: DeployResult['scripts'] = [];
        const changed: number[] = [];
        request.scripts.forEach((s, i) => {
          const hash = hashes[i]!;
          const prev = currentByName.get(s.name);
          const status: ScriptChange = !prev ? 'new' : prev.hash === hash ? 'unchanged' : 'changed';
          if (status !== 'unchanged') changed.push(i);
          result.push({ name: s.name, kind: s.kind, status });
        });
        const removed = current.filter((c) => !names.has(c.name));
        for (const r of removed) result.push({ name: r.name, kind: r.kind, status: 'removed' });

        const [latest] = await tx<{ version: number | null }[]>`select max(version) as version from deployments where environment_id = ${environmentId}`;
        if (changed.length === 0 && removed.length === 0) return { version: latest?.version ?? 0, scripts: result, warnings };

        const version = (latest?.version ?? 0) + 1;
        const [deployment] = await tx<{ id: string }[]>`
          insert into deployments (environment_id, version) values (${environmentId}, ${version}) returning id`;
        const touched = [...changed.map((i) => request.scripts[i]!.name), ...removed.map((r) => r.name)];
        await tx`update scripts set active = false where environment_id = ${environmentId} and active and name = any(${touched})`;
        for (const i of changed) {
          const s = request.scripts[i]!;
          const manifest = manifests[i]!;
          await tx`
            insert into scripts (environment_id, deployment_id, name, provider, kind, code, source_map, hash, manifest)
            values (${environmentId}, ${deployment!.id}, ${s.name}, ${s.provider}, ${s.kind}, ${s.code}, ${s.source_map ?? null}, ${hashes[i]!}, ${JSON.stringify(manifest)}::text::jsonb)`;
          if (manifest.type === 'sync') {
            await deps.syncState.ensureForSync(tx, {
              environmentId, provider: s.provider, syncName: s.name, frequencyMs: manifest.frequencyMs!, autoStart: manifest.autoStart,
            });
          }
        }
        for (const r of removed) if (r.kind === 'sync') await deps.syncState.removeSync(tx, environmentId, r.name);
        await recordActiveSet(tx, environmentId, deployment!.id);
        return { version, scripts: result, warnings };
      });
    },
  };
}
export type Deployer = ReturnType<typeof createDeployer>;
