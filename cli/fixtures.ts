/**
 * Recorded provider traffic: `ferry dryrun --save` writes every proxied request and the
 * provider's answer to `<provider>/fixtures/<script>.json`, with the run's context, and the
 * `ferry/testing` harness replays them so a script's test runs in the real runtime without a
 * network. Requests are matched by method, path and query parameters; several recordings of
 * the same request are answered in the order they were recorded.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { ProxyRequest, ProxyResponse } from '@ferry/runtime/contract';

export const FIXTURE_VERSION = 1;

const ExchangeSchema = z.object({
  request: z.object({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    endpoint: z.string(),
    params: z.record(z.string(), z.string()).default({}),
    /** The request body, parsed when it was JSON. */
    body: z.unknown().optional(),
  }),
  response: z.object({
    status: z.number().int(),
    headers: z.record(z.string(), z.string()).default({}),
    /** The body parsed when it was JSON (readable in review), else `text`. */
    json: z.unknown().optional(),
    text: z.string().optional(),
    /** For a 4xx/5xx: how the host described the call (the error a script that lets it escape fails with). */
    failure: z.string().optional(),
  }),
});
export type RecordedExchange = z.infer<typeof ExchangeSchema>;

export const FixtureSchema = z.object({
  version: z.literal(FIXTURE_VERSION),
  script: z.string(),
  provider: z.string(),
  kind: z.enum(['sync', 'action', 'webhook']),
  recorded_at: z.string(),
  /** What the recorded run started from, so a replay makes the same requests. */
  context: z.object({
    lastSyncDate: z.string().nullable().default(null),
    checkpoint: z.record(z.string(), z.unknown()).nullable().default(null),
    full: z.boolean().default(false),
    metadata: z.record(z.string(), z.unknown()).nullable().default(null),
  }).prefault({}),
  input: z.unknown().optional(),
  exchanges: z.array(ExchangeSchema),
});
export type Fixture = z.infer<typeof FixtureSchema>;

export type ProxyFn = (request: ProxyRequest) => Promise<ProxyResponse>;

/** Headers that change every call or say nothing about the answer: left out of fixtures. */
const DROPPED_HEADERS = new Set(['date', 'set-cookie', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'etag', 'server']);

function parseMaybeJson(text: string): { json: unknown } | { text: string } {
  try {
    return { json: JSON.parse(text) };
  } catch {
    return { text };
  }
}

export function fixturePathFor(entryPath: string, scriptName: string): string {
  // <dir>/<provider>/{syncs,actions}/<name>.ts → <dir>/<provider>/fixtures/<name>.json
  return join(dirname(dirname(entryPath)), 'fixtures', `${scriptName}.json`);
}

/** Wraps a proxy so every exchange is kept for `toFixture`. */
export function recordingProxy(proxy: ProxyFn): { proxy: ProxyFn; exchanges: RecordedExchange[] } {
  const exchanges: RecordedExchange[] = [];
  return {
    exchanges,
    async proxy(request) {
      const response = await proxy(request);
      const headers = Object.fromEntries(Object.entries(response.headers).filter(([name]) => !DROPPED_HEADERS.has(name.toLowerCase())));
      exchanges.push({
        request: {
          method: request.method,
          endpoint: request.endpoint,
          params: request.params,
          ...(request.body !== undefined && { body: 'json' in parseMaybeJson(request.body) ? JSON.parse(request.body) : request.body }),
        },
        response: { status: response.status, headers, ...parseMaybeJson(response.body), ...(response.failure !== undefined && { failure: response.failure }) },
      });
      return response;
    },
  };
}

export async function writeFixture(path: string, fixture: Fixture): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(fixture, null, 2)}\n`);
}

export async function readFixture(path: string): Promise<Fixture> {
  const parsed = FixtureSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path} is not a Ferry fixture: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

function normalisePath(endpoint: string): string {
  return `/${endpoint.split('?', 1)[0]!.replace(/^\/+|\/+$/g, '')}`;
}

function requestKey(method: string, endpoint: string, params: Record<string, string>): string {
  const query = new URLSearchParams(Object.entries(params).sort(([a], [b]) => a.localeCompare(b))).toString();
  return `${method} ${normalisePath(endpoint)}${query ? `?${query}` : ''}`;
}

export class FixtureMismatchError extends Error {
  override readonly name = 'FixtureMismatchError';
}

/**
 * A proxy that answers from a fixture. Each recording answers once, in recorded order; when a
 * request's recordings are used up the last one answers again (a script that polls). A request
 * never recorded fails the script's call with the key it looked for and what the fixture has.
 */
export function replayProxy(fixture: Pick<Fixture, 'exchanges' | 'script'>): ProxyFn & { unused(): RecordedExchange[] } {
  const byKey = new Map<string, Array<{ exchange: RecordedExchange; used: boolean }>>();
  for (const exchange of fixture.exchanges) {
    const key = requestKey(exchange.request.method, exchange.request.endpoint, exchange.request.params);
    const list = byKey.get(key) ?? [];
    list.push({ exchange, used: false });
    byKey.set(key, list);
  }
  const proxy = async (request: ProxyRequest): Promise<ProxyResponse> => {
    const key = requestKey(request.method, request.endpoint, request.params ?? {});
    const list = byKey.get(key);
    if (!list) {
      const known = [...byKey.keys()].slice(0, 10).map((k) => `  ${k}`).join('\n');
      throw new FixtureMismatchError(`no recorded response for ${key} in the fixture of ${fixture.script}; it has:\n${known}\nre-record it with: ferry dryrun ${fixture.script} --connection <id> --save`);
    }
    const entry = list.find((e) => !e.used) ?? (list.at(-1) as (typeof list)[number]);
    entry.used = true;
    const { response } = entry.exchange;
    const body = response.text ?? (response.json === undefined ? '' : JSON.stringify(response.json));
    return { status: response.status, headers: { ...response.headers }, body, ...(response.failure !== undefined && { failure: response.failure }) };
  };
  return Object.assign(proxy, { unused: () => [...byKey.values()].flat().filter((e) => !e.used).map((e) => e.exchange) });
}
