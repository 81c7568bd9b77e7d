/**
 * Nango's recorded fixtures (`<provider>/tests/<script>.test.json`): what the script asked the
 * provider and what it answered, plus what the run should save (`nango.batchSave`) or return
 * (`output`). Requests are matched the way Nango's own test mock matches them: method and
 * endpoint, then exactly the same query parameters and the same body identity.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';

const RecordedApiCallSchema = z.object({
  request: z.object({
    params: z.record(z.string(), z.unknown()).optional(),
    headers: z.record(z.string(), z.unknown()).optional(),
    data: z.unknown().optional(),
  }).optional(),
  response: z.unknown(),
  status: z.number().int().optional(),
  headers: z.record(z.string(), z.unknown()).optional(),
  hash: z.string().optional(),
});
export type RecordedApiCall = z.infer<typeof RecordedApiCallSchema>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export const NangoFixtureSchema = z.object({
  input: z.unknown().optional(),
  output: z.unknown().optional(),
  nango: z.object({
    getConnection: z.record(z.string(), z.unknown()).nullable().optional(),
    getMetadata: z.record(z.string(), z.unknown()).nullable().optional(),
    batchSave: z.record(z.string(), z.array(z.record(z.string(), z.unknown())).nullable()).optional(),
    batchDelete: z.record(z.string(), z.array(z.record(z.string(), z.unknown())).nullable()).optional(),
  }).loose().default({}),
  api: z.partialRecord(z.enum(METHODS), z.record(z.string(), z.union([RecordedApiCallSchema, z.array(RecordedApiCallSchema)]))).default({}),
});
export type NangoFixture = z.infer<typeof NangoFixtureSchema>;

export async function readNangoFixture(path: string): Promise<NangoFixture> {
  const parsed = NangoFixtureSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path} is not a Nango fixture: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Nango's identity of a request body: the text itself, or its sha1 beyond 1000 characters. */
export function bodyIdentity(data: unknown): string | undefined {
  if (data === undefined || data === null || data === '') return undefined;
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  return text.length > 1000 ? `sha1:${createHash('sha1').update(text).digest('hex')}` : text;
}

export interface IncomingRequest {
  method: string;
  path: string;
  params: Array<[string, string]>;
  body: string | undefined;
  /** Headers the script set (those the host or HTTP client adds are left out of the identity). */
  headers?: Record<string, string>;
}

/** Headers Nango leaves out of a request's identity, plus those Ferry's proxy and fetch add. */
const UNIDENTIFYING_HEADERS = new Set([
  'authorization', 'user-agent', 'nango-proxy-user-agent', 'accept-encoding', 'retries', 'host', 'connection-id', 'provider-config-key',
  'nango-is-sync', 'nango-is-script', 'nango-is-dry-run', 'nango-activity-log-id', 'content-length', 'accept', 'base-url-override', 'retry-on',
  'forward-headers-on-redirect', 'connection', 'x-ferry-corpus-case', 'accept-language', 'sec-fetch-mode', 'transfer-encoding',
]);

const sortEntries = (entries: Array<[string, string]>) => entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

/** The sha1 Nango records as `hash`: method, endpoint, sorted params, the script's headers and the body identity. */
export function requestHash(request: IncomingRequest, withHeaders: boolean): string {
  const headers = withHeaders
    ? sortEntries(Object.entries(request.headers ?? {}).filter(([name, value]) => {
        const lower = name.toLowerCase();
        return !UNIDENTIFYING_HEADERS.has(lower) && !(lower === 'content-type' && /^(application\/json|undefined|application\/x-www-form-urlencoded)/i.test(value));
      }))
    : [];
  const identity = { method: request.method.toLowerCase(), endpoint: normalisePath(request.path), params: sortEntries([...request.params]), headers, data: bodyIdentity(request.body) };
  return createHash('sha1').update(JSON.stringify(identity)).digest('hex');
}

/**
 * The path and query parameters a request is matched on: `endpoint` may be a full URL (a
 * next-page link) or carry its own query, and Nango's mock matches on the path and every query
 * parameter (an array value joined by commas, as it is sent).
 */
export function nangoRequestTarget(endpoint: string, params?: Record<string, unknown> | string): { path: string; params: Array<[string, string]> } {
  const url = /^https?:\/\//i.test(endpoint) ? new URL(endpoint) : new URL(`/${endpoint.replace(/^\/+/, '')}`, 'http://nango.invalid');
  if (typeof params === 'string') {
    for (const [key, value] of new URLSearchParams(params.replace(/^\?/, ''))) url.searchParams.append(key, value);
  } else {
    for (const [key, value] of Object.entries(params ?? {})) {
      if (value !== undefined) url.searchParams.set(key, Array.isArray(value) ? value.map(String).join(',') : String(value));
    }
  }
  return { path: url.pathname, params: [...url.searchParams.entries()] };
}

function normalisePath(path: string): string {
  return path.replace(/^\/+/, '');
}

/** The recordings for a method and endpoint, in recorded order. */
export function recordingsFor(fixture: NangoFixture, method: string, path: string): RecordedApiCall[] {
  const byPath = fixture.api[method.toLowerCase() as (typeof METHODS)[number]] ?? {};
  const wanted = normalisePath(path);
  for (const [endpoint, calls] of Object.entries(byPath)) {
    if (normalisePath(endpoint) === wanted) return Array.isArray(calls) ? calls : [calls];
  }
  return [];
}

function paramsMatch(recorded: Record<string, unknown> | undefined, incoming: Array<[string, string]>): boolean {
  const entries = Object.entries(recorded ?? {});
  if (entries.length !== incoming.length) return false;
  return entries.every(([key, value]) => incoming.some(([k, v]) => k === key && v === String(value)));
}

function bodyMatches(recorded: unknown, incoming: string | undefined): boolean {
  if (recorded === undefined) return true;
  const expected = bodyIdentity(recorded);
  if (expected === bodyIdentity(incoming)) return true;
  // The same JSON with other whitespace or key order than the recording is the same body.
  if (incoming === undefined || typeof recorded !== 'object' || recorded === null) return false;
  try {
    return isDeepStrictEqual(JSON.parse(incoming), recorded);
  } catch {
    return false;
  }
}

/** The recording that answers a request, or null: Nango's matching rules (its hash first, then params and body). */
export function matchRecording(fixture: NangoFixture, request: IncomingRequest): RecordedApiCall | null {
  const calls = recordingsFor(fixture, request.method, request.path);
  const hashes = new Set([requestHash(request, true), requestHash(request, false)]);
  const byHash = calls.find((call) => call.hash !== undefined && hashes.has(call.hash));
  if (byHash) return byHash;
  const match = calls.find((call) => {
    if (!call.request) return calls.length === 1 && request.params.length === 0;
    return paramsMatch(call.request.params, request.params) && bodyMatches(call.request.data, request.body);
  });
  return match ?? null;
}

/** What a sync should hold per model at the end of its run: the last save of each id wins, deleted ids removed. */
export function expectedRecords(fixture: NangoFixture): Map<string, Array<Record<string, unknown>>> {
  const models = new Map<string, Array<Record<string, unknown>>>();
  for (const [model, saved] of Object.entries(fixture.nango.batchSave ?? {})) {
    const byId = new Map<string, Record<string, unknown>>();
    for (const record of saved ?? []) byId.set(String(record['id']), JSON.parse(JSON.stringify(record)));
    for (const deleted of fixture.nango.batchDelete?.[model] ?? []) byId.delete(String(deleted['id']));
    models.set(model, [...byId.values()]);
  }
  return models;
}

export function expectedDeletes(fixture: NangoFixture): Map<string, string[]> {
  const models = new Map<string, string[]>();
  for (const [model, deleted] of Object.entries(fixture.nango.batchDelete ?? {})) {
    if (deleted && deleted.length > 0) models.set(model, deleted.map((record) => String(record['id'])));
  }
  return models;
}

/** Dates, times and epoch seconds/milliseconds, which a script computes from the clock. */
const CLOCK_VALUES = /\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?|\b\d{10}(?:\d{3})?\b/g;

/**
 * Whether a request the fixture has no recording of differs from a recorded one only in dates
 * and times: the script asked relative to the clock (`now - 30 days`), so no replay on another
 * day can match, on Nango's own test mock either.
 */
export function differsOnlyByClock(fixture: NangoFixture, request: IncomingRequest): boolean {
  const shape = (params: Array<[string, string]>, body: unknown) =>
    JSON.stringify([sortEntries(params.map(([k, v]) => [k, v.replace(CLOCK_VALUES, '<t>')])), bodyIdentity(body)?.replace(CLOCK_VALUES, '<t>') ?? null]);
  const wanted = shape(request.params, request.body === undefined ? undefined : tryParse(request.body));
  return recordingsFor(fixture, request.method, request.path).some((call) =>
    shape(Object.entries(call.request?.params ?? {}).map(([k, v]) => [k, String(v)]), call.request?.data) === wanted);
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
