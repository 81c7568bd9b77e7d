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
  /**
   * Holds the page requests after `after` (those that come before release()) unanswered: a test
   * acts while a run is known to wait on that page, then lets the answer go, instead of guessing
   * how long a delay covers that.
   */
  holdPage(after: string): PageHold;
  put(id: string, name?: string): void;
  close(): Promise<void>;
}

export interface PageHold {
  /** A request for the page has come and waits. */
  arrived(): boolean;
  /** Answers the waiting requests (and any later ones at once). */
  release(): void;
  /** Every request that waited has been answered (its response handed to the socket). */
  answered(): boolean;
}

export async function startItemsProvider(count: number): Promise<ItemsProvider> {
  const provider: ItemsProvider = {
    url: '',
    items: new Map(),
    requests: [],
    failPage: () => false,
    delayMs: 0,
    mode: 'ok',
    holdPage(after) {
      let release!: () => void;
      const released = new Promise<void>((resolve) => { release = resolve; });
      const hold = { after, released, isReleased: false, waiting: 0, arrived: 0 };
      holds.push(hold);
      return {
        arrived: () => hold.arrived > 0,
        release: () => { hold.isReleased = true; release(); },
        answered: () => hold.isReleased && hold.arrived > 0 && hold.waiting === 0,
      };
    },
    put(id, name = `item ${id}`) {
      provider.items.set(id, { id, name, updatedAt: Date.now() });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const holds: Array<{ after: string; released: Promise<void>; isReleased: boolean; waiting: number; arrived: number }> = [];
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
    const after = query.after ?? '';
    const hold = holds.find((h) => h.after === after && !h.isReleased);
    if (hold) {
      hold.arrived++;
      hold.waiting++;
      await hold.released;
      res.once('finish', () => { hold.waiting--; });
    }
    if (provider.delayMs > 0) await new Promise((r) => setTimeout(r, provider.delayMs));
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
