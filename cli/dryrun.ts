/**
 * Dry run: bundle one script locally and run it in the real runtime against a real connection,
 * saving nothing. HTTP goes through the host's proxy (the host injects credentials, so the CLI
 * never sees them); records are collected in memory and returned for printing.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from '@ferry/host/logger';
import { ConnectionInfoSchema, ProxyResponseSchema, scriptLoadProblem, type SourceLocation, type HostBridge, type LogEntry, type ProxyRequest, type ProxyResponse, type RunJob, type RunResult, type Runtime } from '@ferry/runtime/contract';
import { locateLogStacks, locateRunError, readSourceMap } from '@ferry/runtime/source-map';
import { bundleScript, discoverScripts, sourceRootFor, type DiscoveredScript } from './bundle.ts';
import { createCollectingBridge, type ModelRecords, type StateWrite } from './collect.ts';
import { FIXTURE_VERSION, fixturePathFor, recordingProxy, writeFixture } from './fixtures.ts';
import { HostApiError, createHostClient, type HostClient } from './host-client.ts';

const ProviderPaginationSchema = z.looseObject({ pagination: z.record(z.string(), z.unknown()).nullable().optional() });

const SyncStatusSchema = z.object({ last_sync_date: z.string().nullable(), checkpoint: z.record(z.string(), z.unknown()).nullable().optional() });

export class DryRunError extends Error {
  /** SCRIPT_LOAD_ERROR: the script's top level threw; BAD_SCRIPT: it defines no usable script. */
  readonly code: 'SCRIPT_NOT_FOUND' | 'AMBIGUOUS_SCRIPT' | 'INVALID_INPUT' | 'BAD_SCRIPT' | 'SCRIPT_LOAD_ERROR';
  /** Where in the script's own source it threw (SCRIPT_LOAD_ERROR with a stack that maps). */
  readonly location: SourceLocation | undefined;
  constructor(code: DryRunError['code'], message: string, location?: SourceLocation) {
    super(message);
    this.name = 'DryRunError';
    this.code = code;
    this.location = location;
  }
}

export type { ModelRecords } from './collect.ts';

export interface DryRunResult {
  script: DiscoveredScript;
  lastSyncDate: string | null;
  result: RunResult;
  models: Map<string, ModelRecords>;
  /** The models the script declares, in order: each is reported, including those it passed no record of. */
  declaredModels: string[];
  /** Metadata or checkpoint writes the script asked for (not persisted by a dry run). */
  stateWrites: StateWrite[];
  /** Where the provider's responses were recorded (`save`), else null. */
  fixturePath: string | null;
  /**
   * A key-split sync's full pass (`split: { by: 'keys' }`): the keys its `partitions` returned
   * (null when only `part` ran) and the parts run, in turn, each with `nango.partition`.
   */
  partitions: { keys: string[] | null; ran: string[] } | null;
}

export interface DryRunOptions {
  /** `<name>` or `<provider>/<name>`. */
  name: string;
  connectionId: string;
  input?: unknown;
  full?: boolean;
  /** Start from this checkpoint instead of the connection's (a sync resuming). */
  checkpoint?: Record<string, unknown> | null;
  /** A key-split sync: run only the part of this key (without listing the keys first). */
  part?: string;
  /** Record every proxied exchange as a fixture: true for `<provider>/fixtures/<script>.json`, or a path. */
  save?: boolean | string;
  dir: string;
  url: string;
  key: string | undefined;
  logger: Logger;
  /** Log entries as the script emits them. */
  onLog?: (entries: LogEntry[]) => void;
  /** Called with the script once found, before it runs (the CLI warns that an action reaches the provider for real). */
  onScript?: (script: DiscoveredScript) => void;
  /** A runtime to use instead of starting one (and closing it) for this run. */
  runtime?: Runtime;
}

export async function findScript(dir: string, name: string): Promise<DiscoveredScript> {
  const [provider, bare] = name.includes('/') ? (name.split('/', 2) as [string, string]) : [undefined, name];
  const matches = (await discoverScripts(dir)).filter((s) => s.name === bare && (provider === undefined || s.provider === provider));
  if (matches.length === 0) throw new DryRunError('SCRIPT_NOT_FOUND', `no sync or action named "${name}" under ${dir}`);
  if (matches.length > 1) {
    const options = matches.map((s) => `${s.provider}/${s.name}`).join(', ');
    throw new DryRunError('AMBIGUOUS_SCRIPT', `"${name}" matches several scripts (${options}): name it as <provider>/<name>`);
  }
  return matches[0] as DiscoveredScript;
}

/** The provider entry's pagination defaults, which the host's runs paginate with too. */
async function readPaginationDefaults(client: HostClient, provider: string): Promise<Record<string, unknown> | null> {
  try {
    return (await client.request('GET', `/providers/${encodeURIComponent(provider)}`, ProviderPaginationSchema)).pagination ?? null;
  } catch (error) {
    if (error instanceof HostApiError && error.status === 404) return null;
    throw error;
  }
}

async function readSyncState(client: HostClient, script: DiscoveredScript, connectionId: string) {
  try {
    const path = `/syncs/${encodeURIComponent(`${script.provider}/${script.name}`)}/status?connection_id=${encodeURIComponent(connectionId)}`;
    return await client.request('GET', path, SyncStatusSchema);
  } catch (error) {
    // A sync never run on this connection (or a host without the endpoint): start from scratch.
    if (error instanceof HostApiError && error.status === 404) return { last_sync_date: null, checkpoint: null };
    throw error;
  }
}

/** Loaded lazily: isolated-vm is only needed when a command actually runs a script. */
async function startRuntime(logger: Logger): Promise<Runtime> {
  const { createRuntime } = await import('@ferry/runtime');
  return createRuntime({ workers: 1, logger });
}

export async function dryRun(options: DryRunOptions): Promise<DryRunResult> {
  const script = await findScript(options.dir, options.name);
  if (script.kind === 'action' && options.input === undefined) {
    throw new DryRunError('INVALID_INPUT', `${script.name} is an action: give its input with --input '<json>'`);
  }
  options.onScript?.(script);
  const bundle = await bundleScript(script.entryPath, { root: sourceRootFor(options.dir) });
  const sourceMap = readSourceMap(bundle.sourceMap);
  const client = createHostClient({ url: options.url, key: options.key });
  const connection = await client.request('GET', `/connections/${encodeURIComponent(options.connectionId)}`, ConnectionInfoSchema);
  const pagination = await readPaginationDefaults(client, connection.provider);
  const state = script.kind === 'sync' && !options.full ? await readSyncState(client, script, options.connectionId) : { last_sync_date: null, checkpoint: null };

  const checkpoint = options.checkpoint !== undefined ? options.checkpoint : (state.checkpoint ?? null);
  const viaHost = (request: ProxyRequest) =>
    client.request('POST', `/connections/${encodeURIComponent(options.connectionId)}/proxy`, ProxyResponseSchema, request) as Promise<ProxyResponse>;
  const recorder = options.save ? recordingProxy(viaHost) : null;
  // A logged Error's stack names the script's files, as the host stores it for a deployed run.
  const onLog = options.onLog && ((entries: LogEntry[]) => options.onLog!(locateLogStacks(entries, sourceMap)));
  const { bridge, collected } = createCollectingBridge({ proxy: recorder?.proxy ?? viaHost, metadata: connection.metadata ?? {}, onLog });

  const runtime = options.runtime ?? (await startRuntime(options.logger));
  try {
    const described = await runtime.describe(bundle.code);
    if (!described.ok) {
      const located = locateRunError(described.error, sourceMap);
      const code = located.code === 'SCRIPT_LOAD_ERROR' ? 'SCRIPT_LOAD_ERROR' : 'BAD_SCRIPT';
      throw new DryRunError(code, scriptLoadProblem({ ...located, code }, script.entryPath), located.location);
    }
    if (described.manifest.type !== script.kind) {
      throw new DryRunError('BAD_SCRIPT', `${script.entryPath} sits in ${script.kind}s/ but defines a ${described.manifest.type}`);
    }
    const isFullRun = script.kind === 'sync' && (options.full === true || state.last_sync_date === null);
    const connectionInfo = { lastSyncDate: state.last_sync_date, isFullRun, connection, checkpoint, ...(pagination && { paginationDefaults: pagination }) };
    const job = {
      code: bundle.code,
      limits: described.manifest.limits ?? {},
      ...(script.kind === 'action' && { input: options.input }),
    };
    const keySplit = described.manifest.type === 'sync' && described.manifest.split?.by === 'keys';
    if (options.part !== undefined && !keySplit) throw new DryRunError('INVALID_INPUT', `--part: ${script.name} does not split by keys (split: { by: 'keys', partitions })`);
    let partitions: DryRunResult['partitions'] = null;
    let ran: RunResult;
    if (keySplit && (isFullRun || options.part !== undefined)) {
      // A key split's full pass, as the host runs it: the keys, then each part (here in turn, all into one collection).
      const split = await runKeySplit(runtime, bridge, job, connectionInfo, options.part);
      ran = split.result;
      partitions = { keys: split.keys, ran: split.ran };
    } else {
      ran = await runtime.run({ runId: `dryrun-${randomUUID()}`, kind: script.kind, ...job, context: connectionInfo }, bridge);
    }
    // Stack frames name the script's files, as the host records them for a deployed run.
    const logs = locateLogStacks(ran.logs, sourceMap);
    const result = ran.ok ? { ...ran, logs } : { ...ran, logs, error: locateRunError(ran.error, sourceMap) };
    let fixturePath: string | null = null;
    if (recorder) {
      fixturePath = typeof options.save === 'string' ? options.save : fixturePathFor(script.entryPath, script.name);
      await writeFixture(fixturePath, {
        version: FIXTURE_VERSION,
        script: script.name,
        provider: script.provider,
        kind: script.kind,
        recorded_at: new Date().toISOString(),
        context: { lastSyncDate: state.last_sync_date, checkpoint, full: options.full === true, metadata: connection.metadata },
        ...(script.kind === 'action' && { input: options.input }),
        exchanges: recorder.exchanges,
      });
    }
    const declaredModels = described.manifest.models ?? [];
    return { script, lastSyncDate: state.last_sync_date, result, models: collected.models, declaredModels, stateWrites: collected.stateWrites, fixturePath, partitions };
  } finally {
    if (!options.runtime) await runtime.close();
  }
}

type SyncContextJob = RunJob['context'];

/** Runs after runs add up: logs in order, usage summed (the peak heap is the highest). */
function combine(results: RunResult[]): RunResult {
  const last = results.at(-1)!;
  const logs = results.flatMap((r) => r.logs);
  const usage = results.reduce((sum, r) => ({
    wallMs: sum.wallMs + r.usage.wallMs, cpuMs: sum.cpuMs + r.usage.cpuMs, peakHeapBytes: Math.max(sum.peakHeapBytes, r.usage.peakHeapBytes),
    bridgeBytes: sum.bridgeBytes + r.usage.bridgeBytes, proxyCalls: sum.proxyCalls + r.usage.proxyCalls,
  }), { wallMs: 0, cpuMs: 0, peakHeapBytes: 0, bridgeBytes: 0, proxyCalls: 0 });
  return { ...last, logs, usage };
}

/**
 * A key split's pass: `split.partitions`, then each part with `nango.partition` = { key, from:
 * null, to: null }, stopping at the first failure. Given `part`, only that part (from the given
 * checkpoint; the parts of a full listing start from none, as in a fresh pass).
 */
export async function runKeySplit(
  runtime: Runtime,
  bridge: HostBridge,
  job: Pick<RunJob, 'code' | 'limits'>,
  context: SyncContextJob,
  part: string | undefined,
): Promise<{ result: RunResult; keys: string[] | null; ran: string[] }> {
  const results: RunResult[] = [];
  let keys: string[] | null = null;
  if (part === undefined) {
    const listing = await runtime.run({ runId: `dryrun-${randomUUID()}`, kind: 'partitions', ...job, context: { ...context, lastSyncDate: null, isFullRun: true, checkpoint: null } }, bridge);
    results.push(listing);
    if (!listing.ok) return { result: combine(results), keys: null, ran: [] };
    keys = listing.output as string[];
  }
  const ran: string[] = [];
  for (const key of keys ?? [part!]) {
    ran.push(key);
    const result = await runtime.run({
      runId: `dryrun-${randomUUID()}`, kind: 'sync', ...job,
      context: { ...context, ...(keys !== null && { lastSyncDate: null, isFullRun: true, checkpoint: null }), partition: { key, from: null, to: null } },
    }, bridge);
    if (!result.ok) {
      results.push({ ...result, error: { ...result.error, message: `part ${JSON.stringify(key)}: ${result.error.message}` } });
      break;
    }
    results.push(result);
  }
  return { result: combine(results), keys, ran };
}
