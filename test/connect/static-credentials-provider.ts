/**
 * A provider API on 127.0.0.1 whose static credentials the test can rotate (the end user
 * regenerating their API key or changing their password): a request with an API key it no
 * longer accepts gets 401, one with a stale password 403 (as some providers answer). A request
 * can be held until the test releases it, to change credentials while a call is out.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeldRequest {
  path: string;
  credential: string | null;
}

export interface StaticCredentialsProvider {
  url: string;
  /** The API key accepted now (x-api-key). */
  apiKey: string;
  /** The basic-auth password accepted now (user `ada`). */
  password: string;
  items: Array<{ id: string; name: string }>;
  /** Every request: path, the key or password it carried, the status it got. */
  requests: Array<{ path: string; credential: string | null; status: number }>;
  /**
   * The next request (the next one `match` accepts: other calls, a scheduled sync's say, pass
   * through) is answered only after `release()`; `arrived` resolves when it is in.
   */
  holdNext(match?: (request: HeldRequest) => boolean): { arrived: Promise<void>; release(): void };
  close(): Promise<void>;
}

export async function startStaticCredentialsProvider(): Promise<StaticCredentialsProvider> {
  let hold: { match: (request: HeldRequest) => boolean; arrive: () => void; released: Promise<void> } | null = null;
  const state: StaticCredentialsProvider = {
    url: '',
    apiKey: 'key-one-0123456789',
    password: 'first-password',
    items: [{ id: 'i1', name: 'one' }, { id: 'i2', name: 'two' }, { id: 'i3', name: 'three' }],
    requests: [],
    holdNext(match = () => true) {
      let arrive!: () => void;
      let release!: () => void;
      const arrived = new Promise<void>((r) => (arrive = r));
      const released = new Promise<void>((r) => (release = r));
      hold = { match, arrive, released };
      return { arrived, release };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const key = req.headers['x-api-key'];
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const password = basic ? Buffer.from(basic, 'base64').toString().replace(/^ada:/, '') : null;
    const credential = typeof key === 'string' ? key : password;
    const current = hold?.match({ path, credential }) ? hold : null;
    if (current) hold = null;
    const status = typeof key === 'string'
      ? (key === state.apiKey ? (path === '/v1/forbidden' ? 403 : 200) : 401)
      : password === null ? 401 : password === state.password ? 200 : 403;
    if (current) {
      current.arrive();
      await current.released;
    }
    state.requests.push({ path, credential, status });
    res.writeHead(status, { 'content-type': 'application/json' });
    if (status === 401) return res.end(JSON.stringify({ error: 'invalid_api_key' }));
    if (status === 403) return res.end(JSON.stringify({ error: path === '/v1/forbidden' ? 'insufficient_permissions' : 'credentials_revoked' }));
    res.end(JSON.stringify(path === '/v1/items' ? { items: state.items } : { ok: true }));
  }

  const server = createServer((req, res) => void handle(req, res).catch(() => res.writeHead(500).end()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
