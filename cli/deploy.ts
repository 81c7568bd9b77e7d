/**
 * Deploy: bundle every script under a directory and send them to the host in one request. The
 * host compares hashes and answers which scripts are new, changed or unchanged, so deploying
 * twice is harmless. Used by `ferry deploy` and by the host's `npm start` demo.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { BundleError, bundleScript, discoverScripts, sourceRootFor, type DiscoveredScript, type ScriptKind } from './bundle.ts';
import { createHostClient } from './host-client.ts';

export const DeployResponseSchema = z.object({
  version: z.number(),
  scripts: z.array(z.object({ name: z.string(), provider: z.string().optional(), kind: z.enum(['sync', 'action']), status: z.enum(['new', 'changed', 'unchanged', 'removed']) })),
  /** E.g. MODEL_SHARED: two syncs of one provider write the same model. */
  warnings: z.array(z.looseObject({ code: z.string(), message: z.string() })).default([]),
  /** A partial deploy: scripts the host left out, with why (their active version stays). */
  failed: z.array(z.object({ name: z.string(), provider: z.string(), message: z.string() })).optional(),
});
export type DeployResponse = z.infer<typeof DeployResponseSchema>;

export type DeployProgress =
  | { type: 'bundled'; script: DiscoveredScript; bytes: number; hash: string; ms: number }
  | { type: 'failed'; script: DiscoveredScript; error: BundleError }
  | { type: 'uploading'; count: number; bytes: number };

/** Raised when no script bundled or some failed: every failure is listed, not just the first. */
export class DeployError extends Error {
  readonly code: 'NO_SCRIPTS' | 'BUNDLE_FAILED';
  readonly failures: Array<{ script: DiscoveredScript; error: BundleError }>;
  constructor(code: DeployError['code'], message: string, failures: DeployError['failures'] = []) {
    super(message);
    this.name = 'DeployError';
    this.code = code;
    this.failures = failures;
  }
}

export interface DeployOptions {
  dir: string;
  url: string;
  key: string | undefined;
  onProgress?: (event: DeployProgress) => void;
  maxBytes?: number;
}

export interface BundledScript {
  name: string;
  provider: string;
  kind: ScriptKind;
  code: string;
  sourceMap: string | null;
  hash: string;
  entryPath: string;
}

/**
 * Bundles every script under `dir`, each on its own: what bundled, and every failure.
 * `refused`: scripts already failed (by a type-check) by entry path, each failing with its error
 * instead of bundling.
 */
export async function bundleEach(
  dir: string,
  options: Pick<DeployOptions, 'onProgress' | 'maxBytes'> & { refused?: ReadonlyMap<string, BundleError> } = {},
): Promise<{ bundled: BundledScript[]; failures: DeployError['failures'] }> {
  const scripts = await discoverScripts(dir);
  if (scripts.length === 0) {
    throw new DeployError('NO_SCRIPTS', `no scripts found under ${dir} (expected <provider>/syncs/<name>.ts or <provider>/actions/<name>.ts)`);
  }
  const bundled: BundledScript[] = [];
  const failures: DeployError['failures'] = [];
  const root = sourceRootFor(dir);
  const project = dirname(resolve(dir));
  for (const script of scripts) {
    const refused = options.refused?.get(script.entryPath);
    if (refused) {
      failures.push({ script, error: refused });
      options.onProgress?.({ type: 'failed', script, error: refused });
      continue;
    }
    const started = performance.now();
    try {
      const bundle = await bundleScript(script.entryPath, { root, project, ...(options.maxBytes !== undefined && { maxBytes: options.maxBytes }) });
      bundled.push({ name: script.name, provider: script.provider, kind: script.kind, code: bundle.code, sourceMap: bundle.sourceMap, hash: bundle.hash, entryPath: script.entryPath });
      options.onProgress?.({ type: 'bundled', script, bytes: bundle.bytes, hash: bundle.hash, ms: performance.now() - started });
    } catch (error) {
      if (!(error instanceof BundleError)) throw error;
      failures.push({ script, error });
      options.onProgress?.({ type: 'failed', script, error });
    }
  }
  return { bundled, failures };
}

/** Bundles every script under `dir`; every failure is collected before giving up. */
export async function bundleAll(dir: string, options: Pick<DeployOptions, 'onProgress' | 'maxBytes'> = {}): Promise<BundledScript[]> {
  const { bundled, failures } = await bundleEach(dir, options);
  if (failures.length > 0) {
    throw new DeployError('BUNDLE_FAILED', `${failures.length} of ${bundled.length + failures.length} script(s) failed to bundle; nothing was deployed`, failures);
  }
  return bundled;
}

/**
 * Sends bundles to the host as one deploy; the host answers what was new, changed, unchanged or
 * removed. `partial`: the host leaves out a script it cannot read instead of refusing the set,
 * and `keep` (scripts that did not bundle here) stay as deployed instead of being removed.
 * `keep` alone: deployed scripts the set lacks that stay as they are (removing was not agreed to).
 */
export async function uploadBundles(
  bundled: BundledScript[],
  options: Pick<DeployOptions, 'url' | 'key' | 'onProgress'> & { partial?: { keep: DiscoveredScript[] }; keep?: Array<{ provider: string; name: string }> },
): Promise<DeployResponse> {
  options.onProgress?.({ type: 'uploading', count: bundled.length, bytes: bundled.reduce((sum, s) => sum + Buffer.byteLength(s.code) + Buffer.byteLength(s.sourceMap ?? ''), 0) });
  const client = createHostClient({ url: options.url, key: options.key });
  const scripts = bundled.map(({ name, provider, kind, code, sourceMap, hash }) => ({ name, provider, kind, code, ...(sourceMap !== null && { source_map: sourceMap }), hash }));
  const keep = [...(options.partial?.keep ?? []), ...(options.keep ?? [])].map(({ provider, name }) => ({ provider, name }));
  return client.request('POST', '/deploy', DeployResponseSchema, { scripts, ...(options.partial && { partial: true }), ...(keep.length > 0 && { keep }) });
}

export async function deployScripts(options: DeployOptions): Promise<DeployResponse> {
  return uploadBundles(await bundleAll(options.dir, options), options);
}
