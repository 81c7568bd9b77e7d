/**
 * What `createSync` / `createAction` return to a Nango-style test (under the Ferry vitest
 * plugin): the script's definition, whose `exec(nangoMock, input?)` runs the script file in
 * Ferry's runtime — bundled and isolated as a deploy runs it — with the mock as its host. Every
 * HTTP call is answered through `nangoMock.proxy` (the fixture, or what the test mocked), and
 * every batchSave/batchDelete, metadata and checkpoint write and log line reaches the mock's
 * spies as the script makes it.
 */
import { basename, dirname } from 'node:path';
import { vi } from 'vitest';
import { createAction as defineAction, createSync as defineSync, ActionError } from '@ferry/sdk';
import type { HostBridge, PaginateAnswer, ProxyRequest, ProxyResponse, RunError } from '@ferry/runtime/contract';
import { createScriptTester, type ScriptTester } from './index.ts';
import { PAGINATE_IN_RUNTIME, type NangoProxyConfig } from './nango-mock.ts';
import { proxyResponseOf, type NangoAnswer } from './nango-replay.ts';

/** A provider's entry for runs of its scripts (as `PUT /providers/:name` takes them), for providers Ferry's built-in catalog lacks. */
export interface NangoProviderEntry {
  pagination?: Record<string, unknown>;
  headers?: Record<string, string>;
}

let tester: ScriptTester | null = null;

/** Stops the runtime worker the test file's runs shared (the plugin's setup file calls it in afterAll). */
export async function closeNangoScripts(): Promise<void> {
  const running = tester;
  tester = null;
  await running?.close();
}

/**
 * What a test hands `exec`: Nango's NangoSyncMock / NangoActionMock, or an object of the test's
 * own with the methods the script calls (`{ get: vi.fn().mockResolvedValue({ data }) }`), as
 * Nango's mock-less tests write them. Each host call is made on it where it has that method.
 */
type NangoTestHost = Record<string, unknown>;

/** Calls `mock[name](...args)` when the test's host has that method; `absent` otherwise. */
async function callOn(mock: NangoTestHost, name: string, args: unknown[], absent?: () => unknown): Promise<unknown> {
  const method = mock[name];
  return typeof method === 'function' ? await (method as (...a: unknown[]) => unknown).apply(mock, args) : absent?.();
}

/** The request as the script configured it, in Nango's `ProxyConfiguration` shape (what a test's spies are called with). */
function nangoConfigOf(request: ProxyRequest): NangoProxyConfig {
  const body = request.body;
  // A body the runtime serialised from the script's object goes back to being that object; text the script sent stays text.
  let data: unknown = body;
  if (body !== undefined && /^[[{]/.test(body)) {
    try {
      const parsed: unknown = JSON.parse(body);
      if (JSON.stringify(parsed) === body) data = parsed;
    } catch {
      // not JSON: the script's own text
    }
  }
  // …and the content-type the runtime adds to a body it serialised is not the script's either.
  const headers = Object.fromEntries(Object.entries(request.headers ?? {}).filter(([name, value]) => !(data !== body && name === 'content-type' && value === 'application/json')));
  return {
    endpoint: request.endpoint,
    ...(Object.keys(request.params ?? {}).length > 0 && { params: request.params }),
    ...(Object.keys(headers).length > 0 && { headers }),
    ...(data !== undefined && { data }),
    ...(request.retries !== undefined && { retries: request.retries }),
    ...(request.baseUrlOverride !== undefined && { baseUrlOverride: request.baseUrlOverride }),
  };
}

/** An error carrying the provider's answer, as axios (and so Nango's `get`) rejects with one: `{ response: { status, data } }`. */
function providerAnswerOf(error: unknown): NangoAnswer | null {
  const response = error !== null && typeof error === 'object' ? (error as { response?: unknown }).response : undefined;
  if (response === null || typeof response !== 'object') return null;
  const { status, headers, data } = response as { status?: unknown; headers?: Record<string, unknown>; data?: unknown };
  return typeof status === 'number' && status >= 400 ? { status, headers, data } : null;
}

/**
 * A host call the test's host answers: through its method of the request's name (`get`, `post`…,
 * so a test's `vi.spyOn(nangoMock, 'patch')` sees and answers it), else its `proxy`. A rejection
 * carrying the provider's answer (`response.status` 4xx/5xx) fails the script's call as that
 * answer would; any other rejection reaches the script as an error with its message.
 */
async function proxyThroughMock(mock: NangoTestHost, request: ProxyRequest): Promise<ProxyResponse> {
  const method = request.method.toLowerCase();
  const config = nangoConfigOf(request);
  let answer: NangoAnswer;
  try {
    answer = (await callOn(mock, method, [config], () =>
      callOn(mock, 'proxy', [{ ...config, method }], () => {
        throw new Error(`the test's nango has neither ${method}() nor proxy() to answer ${request.method} ${request.endpoint}`);
      }))) as NangoAnswer;
  } catch (error) {
    const failed = providerAnswerOf(error);
    if (failed) return proxyResponseOf(request, failed);
    throw error;
  }
  return proxyResponseOf(request, answer ?? { data: undefined });
}

const RECORD_SPIES = { save: 'batchSave', update: 'batchUpdate', delete: 'batchDelete' } as const;
const asObject = (value: unknown) => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null);

/** An iterator over what a test's `paginate` returned (an async generator, or any iterable of pages), else null. */
function pagesOf(value: unknown): AsyncIterator<unknown> | Iterator<unknown> | null {
  if (value === null || typeof value !== 'object') return null;
  const iterable = value as { [Symbol.asyncIterator]?: () => AsyncIterator<unknown>; [Symbol.iterator]?: () => Iterator<unknown> };
  return iterable[Symbol.asyncIterator]?.() ?? iterable[Symbol.iterator]?.() ?? null;
}

/** The in-memory host, with each call also made on the test's host (its spies see it; its answers win where it has one). */
function hostReportingTo(mock: NangoTestHost, inMemory: HostBridge): HostBridge {
  const listings = new Map<string, Array<Record<string, unknown>>>();
  /** The walks of the test's own paginate, each with the on_page calls it made since the last page. */
  const walks = new Map<string, { pages: AsyncIterator<unknown> | Iterator<unknown>; onPage: unknown[] }>();
  let walkCount = 0;
  async function nextPage(walk: string, close = false): Promise<PaginateAnswer> {
    const current = walks.get(walk);
    if (!current) return { walk, done: true, onPage: [] };
    if (close) {
      walks.delete(walk);
      await current.pages.return?.();
      return { walk, done: true, onPage: [] };
    }
    const next = await current.pages.next();
    const onPage = current.onPage.splice(0);
    if (next.done) walks.delete(walk);
    return { walk, done: next.done === true, ...(!next.done && { page: next.value }), onPage };
  }
  return {
    ...inMemory,
    async saveRecords(batch) {
      await callOn(mock, RECORD_SPIES[batch.op], [batch.records.map((row) => JSON.parse(row.json) as unknown), batch.model]);
      return inMemory.saveRecords(batch);
    },
    log(entries) {
      for (const entry of entries) void callOn(mock, 'log', [entry.message, { level: entry.level }]).catch(() => undefined);
      inMemory.log(entries);
    },
    async getMetadata() {
      return asObject(await callOn(mock, 'getMetadata', [], () => inMemory.getMetadata())) ?? {};
    },
    async setMetadata(metadata, merge) {
      await callOn(mock, merge ? 'updateMetadata' : 'setMetadata', [metadata]);
      await inMemory.setMetadata(metadata, merge);
    },
    async saveCheckpoint(checkpoint) {
      await (checkpoint === null ? callOn(mock, 'clearCheckpoint', []) : callOn(mock, 'saveCheckpoint', [checkpoint]));
      await inMemory.saveCheckpoint(checkpoint);
    },
    async trackDeletes(model, phase) {
      await callOn(mock, phase === 'start' ? 'trackDeletesStart' : 'trackDeletesEnd', [model]);
      await inMemory.trackDeletes?.(model, phase);
    },
    // Each nango.paginate(config) is called on the test's host with the script's config, as
    // Nango's mock is: the mock's own answers that the script's paginate walks (in the isolate,
    // each page through the mock's get/post…); a test's paginate (mocked, or a hand-made nango's)
    // gives the pages, and the on_page it calls reaches the script's own.
    async paginate(step) {
      if ('config' in step) {
        const onPage: unknown[] = [];
        const config = step.onPage
          ? { ...step.config, paginate: { ...asObject(step.config['paginate']), on_page: async (page: unknown) => void onPage.push(page) } }
          : step.config;
        const answer = await callOn(mock, 'paginate', [config], () => PAGINATE_IN_RUNTIME);
        if (answer === PAGINATE_IN_RUNTIME) return { inScript: true };
        const pages = pagesOf(answer);
        if (!pages) throw new Error(`the test's nango.paginate() returned ${answer === null ? 'null' : typeof answer}, not the pages (an async generator, as \`async function* () { yield [...] }\` gives)`);
        const walk = String(++walkCount);
        walks.set(walk, { pages, onPage });
        return nextPage(walk);
      }
      return nextPage(step.walk, step.close === true);
    },
    // The mock's records (what the fixture or the test gives), read whole when the script starts a
    // walk and served a page at a time, as the host serves its own.
    async listRecords(model, cursor, limit) {
      if (cursor === null) {
        const records: Array<Record<string, unknown>> = [];
        const source = await callOn(mock, 'listRecords', [model], () => []);
        if (source !== null && typeof source === 'object' && Symbol.asyncIterator in source) {
          for await (const record of source as AsyncIterable<unknown>) records.push(record as Record<string, unknown>);
        } else if (Array.isArray(source)) records.push(...(source as Array<Record<string, unknown>>));
        listings.set(model, records);
      }
      const all = listings.get(model) ?? [];
      const start = cursor === null ? 0 : Number(cursor);
      return { records: all.slice(start, start + limit), next: start + limit < all.length ? String(start + limit) : null };
    },
  };
}

/**
 * The fixture's `getConnection` (or what the test mocked), as the run's connection; none recorded
 * is an empty one. Metadata the recording lacks stays absent (undefined), as the script reads
 * the recording under Nango's mock (`z.object({ metadata: z.record(…).optional() })` parses it).
 */
async function connectionOf(mock: NangoTestHost): Promise<{ connection_id: string; connection_config: Record<string, unknown>; metadata: Record<string, unknown> | null | undefined }> {
  const recorded = asObject(await callOn(mock, 'getConnection', []).catch(() => null));
  return {
    connection_id: typeof recorded?.['connection_id'] === 'string' ? recorded['connection_id'] : 'test-connection',
    connection_config: asObject(recorded?.['connection_config']) ?? {},
    metadata: recorded !== null && 'metadata' in recorded ? asObject(recorded['metadata']) : undefined,
  };
}

/**
 * Where a Nango test passes and Ferry's fails on purpose: an action's input or output its schema
 * refuses. Nango's runner only logs a warning (its validateActionInput / validateActionOutput
 * flags are off by default) and its mock calls exec directly; Ferry refuses both on every call.
 */
const SCHEMA_REFUSALS: Record<string, string> = {
  INVALID_INPUT: ". Ferry checks an action's input against its input schema on every call, in tests as when deployed (Nango's runner only logs a warning: its validateActionInput flag is off by default); correct the recorded input (the fixture's \"input\") or the action's input schema",
  INVALID_OUTPUT: ". Ferry checks what an action returns against its output schema on every call, in tests as when deployed (Nango's runner only logs a warning: its validateActionOutput flag is off by default); correct what exec returns or the action's output schema",
};

/** The run's error as the script threw it: an ActionError stays one (type, payload), anything else an Error with the run's code. */
function thrownFor(error: RunError): Error {
  if (error.code === 'ACTION_ERROR') {
    const payload = (error as RunError & { payload?: unknown }).payload;
    const thrown = new ActionError({ ...(payload !== null && typeof payload === 'object' ? payload : { payload }), message: error.message, ...(error.type !== undefined && { type: error.type }) });
    if (error.stack) thrown.stack = error.stack;
    return thrown;
  }
  const thrown = Object.assign(new Error(`${error.message}${SCHEMA_REFUSALS[error.code] ?? ''}`), { code: error.code, location: error.location });
  if (error.stack) thrown.stack = error.stack;
  return thrown;
}

/**
 * The instant the test has set its clock to (`vi.setSystemTime`, with or without fake timers),
 * or undefined while it reads the real time: the script's run then reads that instant, frozen,
 * as Nango's mock runs `exec` in the test's own (mocked) Node.
 */
function testClock(): number | undefined {
  const now = Date.now();
  // Fake timers may fake `performance` too, so under them the (frozen) Date is taken as it is.
  if (vi.isFakeTimers()) return now;
  const real = performance.timeOrigin + performance.now();
  return Math.abs(now - real) > CLOCK_TOLERANCE_MS ? now : undefined;
}
/** Below this a mocked clock is indistinguishable from the real one, and the real one is used. */
const CLOCK_TOLERANCE_MS = 1_000;

async function runUnderMock(file: string, providers: Record<string, NangoProviderEntry>, given: unknown, input?: unknown): Promise<unknown> {
  if (given === null || typeof given !== 'object') {
    throw new TypeError(`${file}: exec() takes the NangoSyncMock or NangoActionMock of 'nango/test' (under the ferry/testing/vitest plugin), or an object with the nango methods the script calls`);
  }
  const mock = given as NangoTestHost;
  // The provider folder (`<provider>/{syncs,actions}/<name>.ts`), as Nango's mock names it.
  const provider = typeof mock['providerConfigKey'] === 'string' ? mock['providerConfigKey'] : basename(dirname(dirname(file)));
  const entry = providers[provider];
  const lastSyncDate = mock['lastSyncDate'];
  tester ??= createScriptTester();
  const run = await tester.run({
    script: file,
    proxy: (request) => proxyThroughMock(mock, request),
    input,
    lastSyncDate: lastSyncDate instanceof Date || typeof lastSyncDate === 'string' ? lastSyncDate : null,
    now: testClock(),
    checkpoint: asObject(await callOn(mock, 'getCheckpoint', [])),
    connection: { ...(await connectionOf(mock)), provider },
    ...(entry?.pagination && { pagination: entry.pagination }),
    ...(entry?.headers && { headers: entry.headers }),
    host: (inMemory) => hostReportingTo(mock, inMemory),
  });
  if (!run.ok) throw thrownFor(run.error!);
  return run.output;
}

/** The `nango` module a script sees in a test: `createSync` / `createAction` whose `exec` runs `file` in Ferry's runtime. */
export function nangoScriptModule(file: string, providers: Record<string, NangoProviderEntry> = {}) {
  return {
    createSync: ((definition: Parameters<typeof defineSync>[0]) => ({
      ...defineSync(definition),
      exec: (mock: unknown) => runUnderMock(file, providers, mock),
    })) as typeof defineSync,
    createAction: ((definition: Parameters<typeof defineAction>[0]) => ({
      ...defineAction(definition),
      exec: (mock: unknown, input: unknown) => runUnderMock(file, providers, mock, input),
    })) as typeof defineAction,
  };
}
