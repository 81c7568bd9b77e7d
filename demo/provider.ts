/**
 * A stand-in for four providers on 127.0.0.1, for tests, benchmarks and the `npm start` demo: a
 * real HTTP server with bearer auth serving a CRM at the root (cursor-paged incremental
 * contacts), a helpdesk at `/helpdesk` (tickets and webhooks), a billing tool at `/billing`
 * (offset-paged invoices whose deletions are hidden) and a chat tool at `/chat` (post a
 * message). Knobs make it misbehave (5xx, 429 with Retry-After, slow answers) so retries and
 * rate limits are exercised for real.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBilling, type Billing } from './billing.ts';
import { createChat, type Chat } from './chat.ts';
import { ContactStore, InvalidCursorError } from './contact-store.ts';
import type { Contact } from './contact-generator.ts';
import { createHelpdesk, type Helpdesk } from './helpdesk.ts';
import { HttpError, readJson, sendJson, type DemoApi, type Reply } from './http.ts';

export type { Contact } from './contact-generator.ts';

export interface DemoProviderOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  apiKey: string;
  /** Contacts present at start (default 250). */
  contacts?: number;
  seed?: number;
  /** When set, a few contacts change by themselves at this interval. */
  driftEveryMs?: number;
  /** Helpdesk tickets present at start (default 120). */
  tickets?: number;
  /** Billing invoices present at start (default 150). */
  invoices?: number;
}

/** The provider names the demo's base URLs are registered under (host/demo.ts, docs, tests). */
export const DEMO_PROVIDERS = ['demo', 'helpdesk', 'billing', 'chat'] as const;
export type DemoProviderName = (typeof DEMO_PROVIDERS)[number];

export interface RequestLogEntry {
  method: string;
  path: string;
  query: Record<string, string>;
  at: string;
  status: number;
}

export interface DemoProvider {
  /** Base URL of the CRM, e.g. http://127.0.0.1:41234 (the other APIs live under it). */
  readonly url: string;
  /** Base URL of each provider API, to register as a Ferry provider's base_url. */
  readonly baseUrls: Record<DemoProviderName, string>;
  readonly helpdesk: Helpdesk;
  readonly billing: Billing;
  readonly chat: Chat;
  readonly apiKey: string;
  /** Every request received, in arrival order, with the status it was answered with. */
  readonly requests: RequestLogEntry[];
  readonly contactCount: number;
  contacts(): Contact[];
  updateContacts(n: number): string[];
  addContacts(n: number): string[];
  deleteContacts(n: number): string[];
  /** The next `times` requests (after auth) are answered with `status`. */
  failNext(status: number, times?: number): void;
  /** The next `times` requests are answered 429 with `Retry-After: retryAfterSeconds`. */
  rateLimitNext(retryAfterSeconds: number, times?: number): void;
  /** The next `times` requests wait `ms` before being handled. */
  delayNext(ms: number, times?: number): void;
  close(): Promise<void>;
}

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 500;

interface Faults {
  fail: { status: number; times: number };
  rateLimit: { seconds: number; times: number };
  delay: { ms: number; times: number };
}

function parseListQuery(query: URLSearchParams): { updatedSince?: Date; cursor?: string; limit: number } {
  const limitText = query.get('limit');
  const limit = limitText === null ? DEFAULT_PAGE_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new HttpError(400, 'invalid_limit', `limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
  }
  const sinceText = query.get('updated_since');
  const updatedSince = sinceText ? new Date(sinceText) : undefined;
  if (updatedSince && Number.isNaN(updatedSince.getTime())) {
    throw new HttpError(400, 'invalid_updated_since', 'updated_since must be an ISO 8601 date-time');
  }
  const cursor = query.get('cursor') || undefined;
  return { limit, ...(updatedSince && { updatedSince }), ...(cursor && { cursor }) };
}

function parseNewContact(body: unknown): Omit<Contact, 'id' | 'created_at' | 'updated_at'> {
  const input = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const text = (key: string): string | null => (typeof input[key] === 'string' ? (input[key] as string) : null);
  const first = text('first_name');
  const last = text('last_name');
  const email = text('email');
  if (!first || !last || !email || !email.includes('@')) {
    throw new HttpError(422, 'invalid_contact', 'first_name, last_name and a valid email are required');
  }
  const tags = Array.isArray(input['tags']) ? input['tags'].filter((t): t is string => typeof t === 'string') : [];
  return {
    first_name: first,
    last_name: last,
    email,
    phone: text('phone'),
    company: text('company'),
    title: text('title'),
    address: null,
    tags,
    notes: text('notes') ?? '',
  };
}

export async function startDemoProvider(options: DemoProviderOptions): Promise<DemoProvider> {
  const store = new ContactStore({ count: options.contacts ?? 250, seed: options.seed ?? 1 });
  const requests: RequestLogEntry[] = [];
  const faults: Faults = { fail: { status: 500, times: 0 }, rateLimit: { seconds: 1, times: 0 }, delay: { ms: 0, times: 0 } };
  const helpdesk = createHelpdesk({ tickets: options.tickets ?? 120, seed: options.seed ?? 7 });
  const billing = createBilling({ invoices: options.invoices ?? 150, seed: options.seed ?? 11 });
  const chat = createChat();
  const apis: DemoApi[] = [helpdesk, billing, chat];

  async function route(req: IncomingMessage, url: URL): Promise<Reply> {
    if (req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return { status: 401, body: { error: { code: 'unauthorized', message: 'missing or invalid bearer token' } } };
    }
    if (faults.delay.times > 0) {
      faults.delay.times--;
      await new Promise((resolve) => setTimeout(resolve, faults.delay.ms));
    }
    if (faults.rateLimit.times > 0) {
      faults.rateLimit.times--;
      const headers = { 'retry-after': String(faults.rateLimit.seconds) };
      return { status: 429, headers, body: { error: { code: 'rate_limited', message: `retry after ${faults.rateLimit.seconds}s` } } };
    }
    if (faults.fail.times > 0) {
      faults.fail.times--;
      return { status: faults.fail.status, body: { error: { code: 'upstream_error', message: 'the CRM is having a bad day' } } };
    }
    const path = url.pathname.replace(/\/+$/, '');
    const api = apis.find((a) => path === a.prefix || path.startsWith(`${a.prefix}/`));
    if (api) return api.handle(req.method ?? 'GET', path.slice(api.prefix.length), url.searchParams, req);
    if (path === '/v1/contacts' && req.method === 'GET') {
      return { status: 200, body: store.list(parseListQuery(url.searchParams)) };
    }
    if (path === '/v1/contacts' && req.method === 'POST') {
      return { status: 201, body: { data: store.create(parseNewContact(await readJson(req))) } };
    }
    const one = /^\/v1\/contacts\/([^/]+)$/.exec(path);
    if (one && req.method === 'GET') {
      const contact = store.get(decodeURIComponent(one[1] as string));
      if (!contact) throw new HttpError(404, 'not_found', 'no such contact');
      return { status: 200, body: { data: contact } };
    }
    throw new HttpError(404, 'not_found', `no route for ${req.method} ${url.pathname}`);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const entry: RequestLogEntry = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      at: new Date().toISOString(),
      status: 0,
    };
    requests.push(entry);
    route(req, url)
      .catch((error: unknown) => {
        if (error instanceof HttpError) return { status: error.status, body: { error: { code: error.code, message: error.message } } };
        if (error instanceof InvalidCursorError) return { status: 400, body: { error: { code: 'invalid_cursor', message: error.message } } };
        return { status: 500, body: { error: { code: 'internal', message: String(error) } } };
      })
      .then(({ status, body, headers }: Reply) => {
        entry.status = status;
        sendJson(res, status, body, headers);
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  // Drift: a few contacts change, and a ticket changes (which sends its webhook to a subscriber).
  const drift = options.driftEveryMs ? setInterval(() => {
    store.update(3);
    void helpdesk.updateTickets(1);
  }, options.driftEveryMs) : null;
  drift?.unref();

  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseUrls: { demo: url, helpdesk: `${url}/helpdesk`, billing: `${url}/billing`, chat: `${url}/chat` },
    helpdesk,
    billing,
    chat,
    apiKey: options.apiKey,
    requests,
    get contactCount() {
      return store.size;
    },
    contacts: () => store.all(),
    updateContacts: (n) => store.update(n),
    addContacts: (n) => store.add(n),
    deleteContacts: (n) => store.delete(n),
    failNext(status, times = 1) {
      faults.fail = { status, times };
    },
    rateLimitNext(retryAfterSeconds, times = 1) {
      faults.rateLimit = { seconds: retryAfterSeconds, times };
    },
    delayNext(ms, times = 1) {
      faults.delay = { ms, times };
    },
    async close() {
      if (drift) clearInterval(drift);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
