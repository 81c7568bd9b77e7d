/**
 * A small provider API for sync-engine tests: items paged by id (`after`, `limit`), filtered by
 * `since`, with knobs to fail the Nth page request and a `/mode` endpoint scripts read.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Item { id: string; name: string; updatedAt: number }

export interface ItemsProvider {
  url: string;
  items: Map<string, Item>;
  requests: Array<{ path: string; query: Record<string, string> }>;
  /** Page requests (with `after` set) fail with 400 while this returns true. */
  failPage: (after: string) => boolean;
  /** Delay each /items response (ms). */
  delayMs: number;
  mode: string;
  put(id: string, name?: string): void;
  close(): Promise<void>;
}

export async function startItemsProvider(count: number): Promise<ItemsProvider> {
  const provider: ItemsProvider = {
    url: '',
    items: new Map(),
    requests: [],
    failPage: () => false,
    delayMs: 0,
    mode: 'ok',
    put(id, name = `item ${id}`) {
      provider.items.set(id, { id, name, updatedAt: Date.now() });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  for (let i = 1; i <= count; i++) provider.put(String(i).padStart(3, '0'));

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    provider.requests.push({ path: url.pathname, query });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/mode') return send(200, { mode: provider.mode });
    if (url.pathname !== '/items') return send(404, { error: 'not found' });
    if (provider.delayMs > 0) await new Promise((r) => setTimeout(r, provider.delayMs));
    const after = query.after ?? '';
    if (after && provider.failPage(after)) return send(400, { error: 'page unavailable' });
    const since = query.since ? Date.parse(query.since) : 0;
    const limit = Number(query.limit ?? 100);
    const all = [...provider.items.values()].filter((i) => i.id > after && i.updatedAt >= since).sort((a, b) => a.id.localeCompare(b.id));
    const page = all.slice(0, limit);
    const next = all.length > limit ? page[page.length - 1]!.id : null;
    send(200, { items: page.map(({ id, name }) => ({ id, name })), next });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  provider.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return provider;
}
