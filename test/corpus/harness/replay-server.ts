/**
 * A real HTTP server on 127.0.0.1 that answers as the provider did when each fixture was
 * recorded. Several scripts share it: a request names its script by its bearer token (each
 * script's connection gets its own), so the host's proxy authenticates exactly as it would
 * against the provider; ferry/testing's requests name it in `x-ferry-corpus-case`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { matchRecording, type NangoFixture } from '../../../testing/nango-fixture.ts';

export interface ReplayMiss {
  method: string;
  path: string;
  params: Array<[string, string]>;
  body: string | undefined;
}

export interface ReplayServer {
  url: string;
  /** Serves `fixture` to requests carrying `Authorization: Bearer <token>`. */
  register(token: string, fixture: NangoFixture): void;
  /** Requests for `token` the fixture had no recording of, since it was registered or last cleared. */
  misses(token: string): ReplayMiss[];
  clearMisses(token: string): void;
  close(): Promise<void>;
}

/** Hop-by-hop and length headers: the server sends its own. */
const UNSENT_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'set-cookie']);

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : text;
}

function answer(res: ServerResponse, status: number, headers: Record<string, unknown>, body: unknown) {
  for (const [name, value] of Object.entries(headers)) {
    if (!UNSENT_HEADERS.has(name.toLowerCase()) && value !== undefined && value !== null) res.setHeader(name, String(value));
  }
  if (body === undefined || body === null || body === '') return res.writeHead(status).end();
  if (typeof body === 'string') {
    if (!res.hasHeader('content-type')) res.setHeader('content-type', 'text/plain');
    return res.writeHead(status).end(body);
  }
  res.setHeader('content-type', 'application/json');
  res.writeHead(status).end(JSON.stringify(body));
}

/**
 * Recorded next-page links point at the provider (`https://api.github.com/...?page=2`). Each
 * absolute URL, in a header or anywhere in the body, that names a request the fixture recorded
 * is pointed at this server instead; every other value is left exactly as recorded.
 */
function localLinks(fixture: NangoFixture, origin: string): (value: unknown) => unknown {
  const rewrite = (text: string): string =>
    text.replace(/https?:\/\/[^\s<>"',;]+/g, (found) => {
      let url: URL;
      try {
        url = new URL(found);
      } catch {
        return found;
      }
      const recorded = matchRecording(fixture, { method: 'GET', path: url.pathname, params: [...url.searchParams.entries()], body: undefined });
      return recorded ? `${origin}${url.pathname}${url.search}` : found;
    });
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return /^https?:\/\/|<https?:\/\//.test(value) ? rewrite(value) : value;
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return walk;
}

export async function startReplayServer(): Promise<ReplayServer> {
  const fixtures = new Map<string, NangoFixture>();
  const missed = new Map<string, ReplayMiss[]>();
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://replay.invalid');
      // ferry/testing's liveProxy names the script in its own header: a script may set Authorization itself.
      const token = (req.headers['x-ferry-corpus-case'] as string | undefined) ?? /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const fixture = token ? fixtures.get(token) : undefined;
      if (!token || !fixture) return answer(res, 401, {}, { error: 'unknown bearer token: this server only answers registered fixtures' });
      const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, String(value)]));
      const request = { method: req.method ?? 'GET', path: url.pathname, params: [...url.searchParams.entries()], body: await readBody(req), headers };
      const recording = matchRecording(fixture, request);
      if (!recording) {
        missed.get(token)?.push(request);
        return answer(res, 404, {}, { error: `no recording of ${request.method} ${url.pathname}${url.search} in the fixture` });
      }
      const local = localLinks(fixture, `http://${req.headers.host}`);
      answer(res, recording.status ?? 200, local(recording.headers ?? {}) as Record<string, unknown>, local(recording.response));
    })().catch((error: unknown) => answer(res, 500, {}, { error: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    register(token, fixture) {
      fixtures.set(token, fixture);
      missed.set(token, []);
    },
    misses: (token) => missed.get(token) ?? [],
    clearMisses: (token) => missed.set(token, []),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
