/**
 * `ferry/testing`: run a script in your tests exactly as Ferry runs it — bundled by the same
 * bundler, in an isolate of the same runtime — with its HTTP answered from recorded fixtures
 * (`ferry dryrun <script> --connection <id> --save`) or by a live provider, and everything it
 * saves kept in memory for assertions.
 *
 *   const tester = createScriptTester();
 *   afterAll(() => tester.close());
 *   const run = await tester.run({ script: 'scripts/demo/syncs/contacts.ts', fixture: 'scripts/demo/fixtures/contacts.json' });
 *   expect(run.records('Contact')).toHaveLength(260);
 */
import { randomUUID } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';
import { bundleScript, createCollectingBridge, readFixture, replayProxy, type Fixture, type ProxyFn } from '@ferry/cli';
import { createLogger, type Logger } from '@ferry/host/logger';
import { builtinProvider, requestHeaders } from '@ferry/host/providers';
import { describeFailure, redactUrl } from '@ferry/host/proxy-describe';
import { ProxyError, targetUrl } from '@ferry/host/proxy-target';
import type { ConnectionInfo } from '@ferry/sdk';
import { scriptLoadProblem, type HostBridge, type Limits, type LogEntry, type ProxyRequest, type ProxyResponse, type RunError, type Runtime, type Usage } from '@ferry/runtime/contract';
import { locateLogStacks, locateRunError, readSourceMap } from '@ferry/runtime/source-map';
import { readTestFixture, type TestFixture } from './fixture-file.ts';
import { nangoFixtureContext, nangoReplayProxy } from './nango-replay.ts';

export { FixtureMismatchError, readFixture, replayProxy, type Fixture, type ProxyFn, type RecordedExchange } from '@ferry/cli';
export { readNangoFixture, type NangoFixture } from './nango-fixture.ts';
export { nangoReplayProxy } from './nango-replay.ts';

export interface ScriptRunOptions {
  /** Path of the script file (absolute, or relative to the working directory). */
  script: string;
  /**
   * Recorded provider answers: a fixture file's path or its parsed content, either Ferry's
   * (`ferry dryrun --save`) or Nango's (`<provider>/tests/<name>.test.json`, matched as Nango's
   * test mock matches). Its context (lastSyncDate, checkpoint, input; a Nango fixture's
   * getConnection and getMetadata) is the run's default.
   */
  fixture?: string | TestFixture;
  /** Answers the script's HTTP calls instead of a fixture, e.g. `liveProxy(...)` against a test server. */
  proxy?: ProxyFn;
  /** An action's input. */
  input?: unknown;
  /** Run the sync's `onWebhook` with this payload instead of `exec`. */
  webhook?: unknown;
  lastSyncDate?: Date | string | null;
  /**
   * The instant the script's `Date` reads throughout the run (frozen), as a test's fake timers
   * hold it: dates the script computes from the clock (`now - 30 days`) then match a recording
   * made at that time. Default: the real clock.
   */
  now?: Date | number | string;
  checkpoint?: Record<string, unknown> | null;
  full?: boolean;
  metadata?: Record<string, unknown>;
  /** Records the host already holds per model, e.g. to see what trackDeletesEnd deletes. */
  records?: Record<string, Array<{ id: string | number }>>;
  connection?: Partial<ConnectionInfo>;
  /**
   * The provider entry's pagination defaults, which `paginate` applies under the script's own
   * settings, as the host does. Default: the built-in catalog entry of the script's provider
   * (`connection.provider`, else the fixture's, else the script's folder), if there is one.
   */
  pagination?: Record<string, unknown> | null;
  /**
   * The provider entry's default headers (Notion's `Notion-Version`), sent under the script's own
   * as the host's proxy sends them. Default: the built-in catalog entry's, found as `pagination` is.
   */
  headers?: Record<string, string>;
  limits?: Partial<Limits>;
  /**
   * Run `exec` as one part of a split pass: `nango.partition` is `{ key, from: null, to: null }`
   * for a key (a key split's part), or the window given. Absent: no partition, as an unsplit run.
   */
  partition?: string | { key: string; from: Date | string | null; to: Date | string | null };
  /**
   * Run only a key split's `split.partitions` (`split: { by: 'keys' }`): the run's `output` is
   * its keys, as the runtime checked them (distinct non-empty strings, at most 1,000).
   */
  listPartitions?: boolean;
  /**
   * Wraps the in-memory host the run talks to, to see or answer each host call as the script
   * makes it (`ferry/testing/nango` reports them to Nango's test mock). What the wrapper passes
   * on to `inMemory` is what `records()`, `checkpoints` and `metadata` show.
   */
  host?: (inMemory: HostBridge) => HostBridge;
}

export interface ScriptRun {
  ok: boolean;
  /** An action's output, or a `listPartitions` run's keys (undefined for syncs). */
  output: unknown;
  error: RunError | undefined;
  logs: LogEntry[];
  usage: Usage;
  /** The model's records as the host would hold them after this run (saves, updates, deletes applied). */
  records<T = any>(model: string): T[];
  /** Ids the script passed to batchDelete for the model. */
  deleted(model: string): string[];
  rejected(model: string): Array<{ id: string | null; reason: string }>;
  /** Every checkpoint the script saved, in order (null for clearCheckpoint). */
  checkpoints: unknown[];
  /** The connection metadata as the script left it. */
  metadata: Record<string, unknown>;
  /** Every HTTP request the script made, in order. */
  requests: ProxyRequest[];
}

export interface ScriptTester {
  run(options: ScriptRunOptions): Promise<ScriptRun>;
  /** Stops the runtime's worker process; call it in `afterAll`. */
  close(): Promise<void>;
}

/**
 * A script that does not load: its top level threw (`code` SCRIPT_LOAD_ERROR, with `location` in
 * its own file when the stack maps) or it defines no script (BAD_SCRIPT). `tester.run()` rejects
 * with it; the message reads as `ferry compile`, `ferry dryrun` and a deploy word it.
 */
export class ScriptLoadError extends Error {
  override readonly name = 'ScriptLoadError';
  readonly code: string;
  readonly location: RunError['location'];
  /** The error's stack, mapped to the script's files. */
  readonly scriptStack: string | undefined;
  constructor(error: RunError, script: string) {
    super(scriptLoadProblem(error, script));
    this.code = error.code;
    this.location = error.location;
    this.scriptStack = error.stack;
  }
}

export interface LiveProxyOptions {
  /** The provider's base URL, as its catalog entry's `base_url`. */
  baseUrl: string;
  /** Sent with every request: the test provider's auth, as the host adds the connection's credentials. */
  headers?: Record<string, string>;
  /** The provider's other origins (its catalog entry's `allowed_origins`): a `baseUrlOverride` or absolute endpoint may go there too. */
  allowedOrigins?: string[];
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/**
 * A proxy that sends the script's requests to `baseUrl` with the given headers. The URL is
 * resolved by the host's own function (a relative endpoint under the base URL or an accepted
 * `baseUrlOverride`; an absolute one only on the provider's origins), and a redirect is followed
 * only on them, so the headers go nowhere a deployed run's credentials would not.
 */
export function liveProxy(options: LiveProxyOptions): ProxyFn {
  const parsed = new URL(options.baseUrl);
  const base = {
    baseUrl: `${parsed.origin}${parsed.pathname}`,
    origins: [options.baseUrl, ...(options.allowedOrigins ?? [])].map((o) => ({ origin: new URL(o).origin, declared: o })),
  };
  return async (request) => {
    let url = targetUrl(base, request);
    const headers: Record<string, string> = { ...request.headers, ...options.headers };
    if (request.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    let method = request.method;
    let body = request.body;
    for (let hops = 0; ; hops++) {
      const response = await fetch(url, { method, headers, redirect: 'manual', ...(body !== undefined && { body }) });
      const location = response.headers.get('location');
      if (REDIRECTS.has(response.status) && location) {
        await response.body?.cancel();
        const next = new URL(location, url);
        if (!base.origins.some((o) => o.origin === next.origin)) {
          throw new ProxyError('REDIRECT_BLOCKED', `${method} ${redactUrl(url)} redirected to ${next.origin}, which is not one of the provider's origins (${base.origins.map((o) => o.origin).join(', ')}); credentials never leave them`);
        }
        if (hops >= MAX_REDIRECTS) throw new ProxyError('TOO_MANY_REDIRECTS', `${method} ${redactUrl(url)}: more than ${MAX_REDIRECTS} redirects`);
        if (response.status === 303 || ((response.status === 301 || response.status === 302) && method !== 'GET')) {
          method = 'GET';
          body = undefined;
          for (const name of Object.keys(headers)) if (name.toLowerCase() === 'content-type') delete headers[name];
        }
        url = next;
        continue;
      }
      const text = await response.text();
      // A failed call reads as the host's proxy describes it, so the script's error is the same here.
      const failure = response.status >= 400 ? describeFailure(method, redactUrl(url), response.status, text) : undefined;
      return { status: response.status, headers: Object.fromEntries(response.headers), body: text, ...(failure !== undefined && { failure }) } satisfies ProxyResponse;
    }
  };
}

/** `<dir>/<provider>/{syncs,actions}/<name>.ts` → `<provider>`. */
function providerFolder(script: string): string {
  return basename(dirname(dirname(resolve(script))));
}

export function createScriptTester(options: { logger?: Logger } = {}): ScriptTester {
  const logger = options.logger ?? createLogger({ name: 'ferry-testing', level: process.env['FERRY_LOG_LEVEL'] ?? 'silent' });
  let runtime: Promise<Runtime> | null = null;
  const getRuntime = () => (runtime ??= import('@ferry/runtime').then(({ createRuntime }) => createRuntime({ workers: 1, logger })));

  return {
    async run(run) {
      const loaded = typeof run.fixture === 'string' ? await readTestFixture(resolve(run.fixture)) : run.fixture;
      const nango = loaded && !('exchanges' in loaded) ? loaded : undefined;
      const fixture = loaded && 'exchanges' in loaded ? loaded : undefined;
      const scriptName = basename(run.script).replace(/\.[cm]?[jt]s$/, '');
      const recorded = nango ? nangoFixtureContext(nango) : undefined;
      const upstream = run.proxy ?? (fixture ? replayProxy(fixture) : nango ? nangoReplayProxy(nango, scriptName) : null);
      if (!upstream) throw new Error('give the run a fixture (recorded with ferry dryrun --save, or a Nango *.test.json) or a proxy');
      const provider = run.connection?.provider ?? fixture?.provider ?? providerFolder(run.script);
      const defaultHeaders = run.headers ?? builtinProvider(provider)?.headers ?? {};
      const requests: ProxyRequest[] = [];
      const { bridge: inMemory, collected } = createCollectingBridge({
        proxy: (request) => {
          requests.push(request);
          // What the host's proxy would send: the provider's headers under the script's, none the host owns.
          return upstream({ ...request, headers: requestHeaders(defaultHeaders, request.headers) });
        },
        metadata: run.metadata ?? fixture?.context.metadata ?? recorded?.metadata ?? {},
        ...(run.records && { records: run.records }),
      });

      const { code, sourceMap: sourceMapText } = await bundleScript(resolve(run.script));
      const sourceMap = readSourceMap(sourceMapText);
      const rt = await getRuntime();
      const described = await rt.describe(code);
      if (!described.ok) throw new ScriptLoadError(locateRunError(described.error, sourceMap), run.script);
      const { manifest } = described;
      if (run.listPartitions && (manifest.type !== 'sync' || manifest.split?.by !== 'keys')) throw new Error(`${run.script}: listPartitions needs a sync with split: { by: 'keys', partitions }`);
      const kind = run.listPartitions ? 'partitions' : run.webhook !== undefined ? 'webhook' : manifest.type;
      const iso = (d: Date | string | null) => (d instanceof Date ? d.toISOString() : d);
      const partition = run.partition === undefined ? undefined
        : typeof run.partition === 'string' ? { key: run.partition, from: null, to: null }
        : { key: run.partition.key, from: iso(run.partition.from), to: iso(run.partition.to) };
      const lastSyncDate = run.lastSyncDate !== undefined ? run.lastSyncDate : (fixture?.context.lastSyncDate ?? null);
      const full = run.full ?? fixture?.context.full ?? false;
      const pagination = run.pagination !== undefined ? run.pagination : (builtinProvider(provider)?.pagination ?? null);
      const clock = run.now === undefined ? undefined : new Date(run.now).getTime();
      const bridge = run.host ? run.host(inMemory) : inMemory;
      if (clock !== undefined && !Number.isFinite(clock)) throw new TypeError(`now: ${String(run.now)} is not a date`);
      const result = await rt.run(
        {
          runId: `test-${randomUUID()}`,
          code,
          kind,
          limits: { ...manifest.limits, ...run.limits },
          ...(kind === 'action' && { input: run.input !== undefined ? run.input : (fixture ?? recorded)?.input }),
          ...(kind === 'webhook' && { input: run.webhook }),
          context: {
            lastSyncDate: lastSyncDate instanceof Date ? lastSyncDate.toISOString() : lastSyncDate,
            isFullRun: manifest.type === 'sync' && (full || lastSyncDate === null),
            connection: { connection_id: 'test-connection', provider, connection_config: {}, metadata: null, ...recorded?.connection, ...run.connection },
            ...(pagination && { paginationDefaults: pagination }),
            ...(partition && { partition }),
            ...(clock !== undefined && { clock }),
            ...(bridge.paginate && { hostPaginates: true }),
            checkpoint: run.checkpoint !== undefined ? run.checkpoint : (fixture?.context.checkpoint ?? null),
          },
        },
        bridge,
      );
      const model = (name: string) => collected.models.get(name);
      return {
        ok: result.ok,
        output: result.ok ? result.output : undefined,
        // Stack frames name the script's files, as the host records them for a deployed run.
        error: result.ok ? undefined : locateRunError(result.error, sourceMap),
        // A logged Error's stack is mapped too, as the host stores it.
        logs: locateLogStacks(result.logs, sourceMap),
        usage: result.usage,
        records: (name) => [...(model(name)?.records.values() ?? [])] as never[],
        deleted: (name) => [...(model(name)?.deletedIds ?? [])],
        rejected: (name) => [...(model(name)?.rejected ?? [])],
        checkpoints: collected.stateWrites.filter((w) => w.kind === 'checkpoint').map((w) => w.value),
        metadata: collected.metadata(),
        requests,
      };
    },
    async close() {
      if (runtime) await (await runtime).close();
      runtime = null;
    },
  };
}
