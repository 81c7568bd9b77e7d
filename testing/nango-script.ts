/**
 * What `createSync` / `createAction` return to a Nango-style test (under the Ferry vitest
 * plugin): the script's definition, whose `exec(nangoMock, input?)` runs the script file in
 * Ferry's runtime — bundled and isolated as a deploy runs it — with the mock as its host. Every
 * HTTP call is answered through `nangoMock.proxy` (the fixture, or what the test mocked), and
 * every batchSave/batchDelete, metadata and checkpoint write and log line reaches the mock's
 * spies as the script makes it.
 */
import { vi } from 'vitest';
import { createAction as defineAction, createSync as defineSync, ActionError } from '@ferry/sdk';
import type { HostBridge, ProxyRequest, ProxyResponse, RunError } from '@ferry/runtime/contract';
import { createScriptTester, type ScriptTester } from './index.ts';
import { NangoActionMock, NangoSyncMock } from './nango-mock.ts';
import { proxyResponseOf } from './nango-replay.ts';

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

/** A host call the mock answers: a request in Nango's proxy configuration shape. */
async function proxyThroughMock(mock: NangoActionMock, request: ProxyRequest): Promise<ProxyResponse> {
  const answer = await mock.proxy({
    method: request.method.toLowerCase(),
    endpoint: request.endpoint,
    params: request.params,
    headers: request.headers,
    ...(request.body !== undefined && { data: request.body }),
  });
  return proxyResponseOf(request, answer);
}

const RECORD_SPIES = { save: 'batchSave', update: 'batchUpdate', delete: 'batchDelete' } as const;

/** The in-memory host, with each call also made on the mock (its spies see it; its answers win where it has one). */
function hostReportingTo(mock: NangoActionMock, inMemory: HostBridge): HostBridge {
  const listings = new Map<string, Array<Record<string, unknown>>>();
  return {
    ...inMemory,
    async saveRecords(batch) {
      const spy = mock instanceof NangoSyncMock ? mock[RECORD_SPIES[batch.op]] : undefined;
      await spy?.(batch.records.map((row) => JSON.parse(row.json) as unknown), batch.model);
      return inMemory.saveRecords(batch);
    },
    log(entries) {
      for (const entry of entries) void mock.log(entry.message, { level: entry.level });
      inMemory.log(entries);
    },
    async getMetadata() {
      const metadata = await mock.getMetadata();
      return metadata !== null && typeof metadata === 'object' ? (metadata as Record<string, unknown>) : {};
    },
    async setMetadata(metadata, merge) {
      await (merge ? mock.updateMetadata(metadata) : mock.setMetadata(metadata));
      await inMemory.setMetadata(metadata, merge);
    },
    async saveCheckpoint(checkpoint) {
      if (mock instanceof NangoSyncMock) await (checkpoint === null ? mock.clearCheckpoint() : mock.saveCheckpoint(checkpoint));
      await inMemory.saveCheckpoint(checkpoint);
    },
    async trackDeletes(model, phase) {
      await (phase === 'start' ? mock.trackDeletesStart(model) : mock.trackDeletesEnd(model));
      await inMemory.trackDeletes?.(model, phase);
    },
    // The mock's records (what the fixture or the test gives), read whole when the script starts a
    // walk and served a page at a time, as the host serves its own.
    async listRecords(model, cursor, limit) {
      if (!(mock instanceof NangoSyncMock)) throw new Error('listRecords belongs to syncs');
      if (cursor === null) {
        const records: Array<Record<string, unknown>> = [];
        const listed = mock.listRecords(model) as unknown;
        const source = listed instanceof Promise ? await listed : listed;
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

/** The fixture's `getConnection` (or what the test mocked), as the run's connection; none recorded is an empty one. */
async function connectionOf(mock: NangoActionMock): Promise<{ connection_id: string; connection_config: Record<string, unknown>; metadata: Record<string, unknown> | null }> {
  const recorded = (await mock.getConnection().catch(() => null)) as Record<string, unknown> | null;
  const object = (value: unknown) => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null);
  return {
    connection_id: typeof recorded?.['connection_id'] === 'string' ? recorded['connection_id'] : 'test-connection',
    connection_config: object(recorded?.['connection_config']) ?? {},
    metadata: object(recorded?.['metadata']),
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

async function runUnderMock(file: string, providers: Record<string, NangoProviderEntry>, mock: unknown, input?: unknown): Promise<unknown> {
  if (!(mock instanceof NangoActionMock)) {
    throw new TypeError(`${file}: exec() takes the NangoSyncMock or NangoActionMock of ferry/testing/nango (what 'nango/test' gives under the ferry/testing/vitest plugin)`);
  }
  const entry = providers[mock.providerConfigKey];
  const sync = mock instanceof NangoSyncMock;
  tester ??= createScriptTester();
  const run = await tester.run({
    script: file,
    proxy: (request) => proxyThroughMock(mock, request),
    input,
    lastSyncDate: sync ? mock.lastSyncDate : null,
    now: testClock(),
    checkpoint: sync ? await mock.getCheckpoint() : null,
    connection: { ...(await connectionOf(mock)), provider: mock.providerConfigKey },
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
