/**
 * Dry run: bundle one script locally and run it in the real runtime against a real connection,
 * saving nothing. HTTP goes through the host's proxy (the host injects credentials, so the CLI
 * never sees them); records are collected in memory and returned for printing.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { API_LIMITS } from '@ferry/host/api-limits';
import type { Logger } from '@ferry/host/logger';
import { ConnectionInfoSchema, ProxyResponseSchema, scriptLoadProblem, type SourceLocation, type HostBridge, type LogEntry, type ProxyRequest, type ProxyResponse, type RunJob, type RunResult, type Runtime } from '@ferry/runtime/contract';
import { locateLogStacks, locateRunError, readSourceMap } from '@ferry/runtime/source-map';
import { bundleScript, discoverScripts, sourceRootFor, type DiscoveredScript } from './bundle.ts';
import { createCollectingBridge, type ModelRecords, type StateWrite } from './collect.ts';
import { FIXTURE_VERSION, fixturePathFor, recordingProxy, writeFixture } from './fixtures.ts';
import { HostApiError, createHostClient, type HostClient } from './host-client.ts';
import { keyParts, planWindows, type PartWindow, type TimeSplit } from '@ferry/host/parts';

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
  /**
   * A time-split sync's full pass (`split: { by: 'time' }`): its windows as the host would plan
   * them now (or, with `part`, the one window run), each run in turn. `partitions` lists their
   * starts (the parts' keys) and the parts run.
   */
  windows: Array<{ part: string; from: string; to: string | null }> | null;
}

export interface DryRunOptions {
  /** `<name>` or `<provider>/<name>`. */
  name: string;
  connectionId: string;
  input?: unknown;
  full?: boolean;
  /** Start from this checkpoint instead of the connection's (a sync resuming). */
  checkpoint?: Record<string, unknown> | null;
  /**
   * A split sync: run only this part. A key split's key (without listing the keys first), or a
   * time split's window start (the window that holds that instant, as the host plans windows now).
   */
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

const RecordPageSchema = z.object({
  records: z.array(z.looseObject({ id: z.union([z.string(), z.number()]).transform(String), _ferry_metadata: z.looseObject({ deleted_at: z.string().nullable().optional() }).optional() })),
  next_cursor: z.string().nullable(),
});

/** Unseen ids listed in the output; the count is exact beyond them. */
const UNSEEN_IDS_SHOWN = API_LIMITS.unseenIds;

const UnseenSchema = z.object({ count: z.number().int(), ids: z.array(z.string()) });

/**
 * The host's live records of a model that the walk did not see (what a trackDeletesEnd there
 * deletes): one POST /records/unseen with the seen ids, which sends back only the unseen ones,
 * not every record of the model. A walk that saw more ids than one request takes (API_LIMITS),
 * a request the host found too large (413: long ids), or a host without the route, is weighed
 * page by page over GET /records as before.
 */
async function unseenOnHost(client: HostClient, connectionId: string, model: string, seen: string[]): Promise<{ count: number; ids: string[] }> {
  if (seen.length <= API_LIMITS.seenIds) {
    try {
      return await client.request('POST', '/records/unseen', UnseenSchema, { connection_id: connectionId, model, seen, limit: UNSEEN_IDS_SHOWN });
    } catch (err) {
      const noRoute = err instanceof HostApiError && err.code === 'NOT_FOUND' && /no route/.test(err.message);
      if (!noRoute && !(err instanceof HostApiError && err.status === 413)) throw err;
    }
  }
  const seenSet = new Set(seen);
  const unseen = (await liveIds(client, connectionId, model)).filter((id) => !seenSet.has(id));
  return { count: unseen.length, ids: unseen.slice(0, UNSEEN_IDS_SHOWN) };
}

/** The ids of a model's live records on the host, read page by page. */
async function liveIds(client: HostClient, connectionId: string, model: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (;;) {
    const query: URLSearchParams = new URLSearchParams({ connection_id: connectionId, model, limit: '1000', ...(cursor && { cursor }) });
    let page: z.infer<typeof RecordPageSchema>;
    try {
      page = await client.request('GET', `/records?${query}`, RecordPageSchema);
    } catch (err) {
      // Nothing deployed on the host has written this model for the connection yet (a dry run
      // before the first deploy): it holds no records a trackDeletesEnd there could delete.
      if (err instanceof HostApiError && err.code === 'UNKNOWN_MODEL') return ids;
      throw err;
    }
    for (const r of page.records) if (!r._ferry_metadata?.deleted_at) ids.push(r.id);
    if (page.next_cursor === null || page.records.length === 0) return ids;
    cursor = page.next_cursor;
  }
}

const LiveRecordsPageSchema = z.object({
  records: z.array(z.looseObject({ _ferry_metadata: z.looseObject({ deleted_at: z.string().nullable().optional() }).optional() })),
  next_cursor: z.string().nullable(),
});

/**
 * One page of the model's live records on the host (GET /records), as a script's listRecords
 * reads them there: without `_ferry_metadata`, deleted ones left out. A model nothing deployed
 * has written for the connection yet has no records.
 */
async function hostRecordsPage(client: HostClient, connectionId: string, model: string, cursor: string | null, limit: number) {
  const query = new URLSearchParams({ connection_id: connectionId, model, limit: String(limit), ...(cursor !== null && { cursor }) });
  let page: z.infer<typeof LiveRecordsPageSchema>;
  try {
    page = await client.request('GET', `/records?${query}`, LiveRecordsPageSchema);
  } catch (err) {
    if (err instanceof HostApiError && err.code === 'UNKNOWN_MODEL') return { records: [], next: null };
    throw err;
  }
  const records = page.records.filter((r) => !r._ferry_metadata?.deleted_at).map(({ _ferry_metadata: _metadata, ...record }) => record);
  return { records, next: page.records.length === 0 ? null : page.next_cursor };
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
  const { bridge, collected } = createCollectingBridge({ proxy: recorder?.proxy ?? viaHost, metadata: connection.metadata ?? {}, onLog, hostUnseen: (model, seen) => unseenOnHost(client, options.connectionId, model, seen),
    hostRecords: (model, cursor, limit) => hostRecordsPage(client, options.connectionId, model, cursor, limit),
  });

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
    const split = described.manifest.type === 'sync' ? described.manifest.split : undefined;
    if (options.part !== undefined && !split) throw new DryRunError('INVALID_INPUT', `--part: ${script.name} does not split (split: { by: 'keys', partitions } or { by: 'time', from, every })`);
    let partitions: DryRunResult['partitions'] = null;
    let windows: DryRunResult['windows'] = null;
    let ran: RunResult;
    if (split?.by === 'keys' && (isFullRun || options.part !== undefined)) {
      // A key split's full pass, as the host runs it: the keys, then each part (here in turn, all into one collection).
      const pass = await runKeySplit(runtime, bridge, job, connectionInfo, options.part);
      ran = pass.result;
      partitions = { keys: pass.keys, ran: pass.ran };
    } else if (split?.by === 'time' && (isFullRun || options.part !== undefined)) {
      // A time split's full pass, as the host runs it: its windows planned from now, each run in turn.
      const planned = planTimeParts(split, new Date(), options.part, script.entryPath);
      const pass = await runParts(runtime, bridge, job, connectionInfo, planned, options.part === undefined);
      ran = pass.result;
      windows = planned.map((w) => ({ part: w.part, from: w.from!.toISOString(), to: w.to?.toISOString() ?? null }));
      partitions = { keys: options.part === undefined ? planned.map((w) => w.part) : null, ran: pass.ran };
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
        context: { lastSyncDate: state.last_sync_date, checkpoint, full: options.full === true, metadata: connection.metadata ?? null },
        ...(script.kind === 'action' && { input: options.input }),
        exchanges: recorder.exchanges,
      });
    }
    const declaredModels = described.manifest.models ?? [];
    return { script, lastSyncDate: state.last_sync_date, result, models: collected.models, declaredModels, stateWrites: collected.stateWrites, fixturePath, partitions, windows };
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
    // Nothing to split (an account with no mailboxes): the host's pass succeeds with zero parts.
    if (keys.length === 0) return { result: { ...listing, output: undefined }, keys, ran: [] };
  }
  const pass = await runParts(runtime, bridge, job, context, keyParts(keys ?? [part!]), keys !== null);
  return { result: combine([...results, pass.result]), keys, ran: pass.ran };
}

/**
 * Runs parts in turn, each with `nango.partition` = { key, from, to }, stopping at the first
 * failure (its error names the part). `fresh`: each part starts as in a new pass (no
 * lastSyncDate, no checkpoint); else from the context's checkpoint (one part asked for).
 */
export async function runParts(
  runtime: Runtime,
  bridge: HostBridge,
  job: Pick<RunJob, 'code' | 'limits'>,
  context: SyncContextJob,
  parts: PartWindow[],
  fresh: boolean,
): Promise<{ result: RunResult; ran: string[] }> {
  const results: RunResult[] = [];
  const ran: string[] = [];
  for (const part of parts) {
    ran.push(part.part);
    const partition = { key: part.part, from: part.from?.toISOString() ?? null, to: part.to?.toISOString() ?? null };
    const result = await runtime.run({
      runId: `dryrun-${randomUUID()}`, kind: 'sync', ...job,
      context: { ...context, ...(fresh && { lastSyncDate: null, isFullRun: true, checkpoint: null }), partition },
    }, bridge);
    if (!result.ok) {
      results.push({ ...result, error: { ...result.error, message: `part ${JSON.stringify(part.part)}: ${result.error.message}` } });
      break;
    }
    results.push(result);
  }
  return { result: combine(results), ran };
}

/**
 * A time split's windows as the host plans them for a pass starting `now`; given `part` (a
 * window's start), only the window holding that instant: with `from` an ISO date the starts are
 * fixed and match exactly; with a duration back from now they move with the clock, so a start
 * printed by an earlier dry run still finds its window.
 */
export function planTimeParts(split: TimeSplit, now: Date, part: string | undefined, file: string): PartWindow[] {
  let windows: PartWindow[];
  try {
    windows = planWindows(split, now);
  } catch (error) {
    throw new DryRunError('BAD_SCRIPT', `${file}: split: ${(error as Error).message}`);
  }
  if (part === undefined) return windows;
  const at = Date.parse(part);
  const starts = `${windows.slice(0, 3).map((w) => w.part).join(', ')}${windows.length > 3 ? ', …' : ''}`;
  if (!/^\d{4}-\d{2}-\d{2}/.test(part) || Number.isNaN(at)) {
    throw new DryRunError('INVALID_INPUT', `--part "${part}": a time split's part is its window's start, an ISO date (${starts})`);
  }
  const window = windows.find((w) => at >= w.from!.getTime() && (w.to === null || at < w.to.getTime()));
  if (!window) throw new DryRunError('INVALID_INPUT', `--part "${part}": before the split's first window, which starts ${windows[0]!.part} (${starts})`);
  return [window];
}
