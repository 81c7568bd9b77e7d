/**
 * What the split-pass tests share: a sync declaring `split` (half-year windows from 2024-01-01)
 * that reads its window (`nango.partition`) page by page with a checkpoint, and a provider of
 * dated events with latency, a window that can be made to fail, and a log of the requests.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const DAY = 86_400_000;
export const START = Date.parse('2024-01-01T00:00:00Z');

export const SPLIT_SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Event = z.object({ id: z.string(), at: z.string() });
export default createSync({
  description: 'events, first sync split into half-years',
  frequency: 'every 1 hour',
  syncType: 'full',
  trackDeletes: true,
  retries: 1,
  split: { by: 'time', from: '2024-01-01T00:00:00Z', every: '180 days' },
  models: { Event },
  exec: async (nango) => {
    const window = nango.partition;
    let after = ((await nango.getCheckpoint()) as { after?: string } | null)?.after ?? '';
    for (;;) {
      const params: Record<string, string> = { after, limit: '3' };
      if (window?.from) params.from = window.from.toISOString();
      if (window?.to) params.to = window.to.toISOString();
      const res = await nango.get<{ events: Array<{ id: string; at: string }>; next: string | null }>({ endpoint: '/events', params, retries: 0 });
      await nango.batchSave(res.data.events, 'Event');
      if (!res.data.next) break;
      after = res.data.next;
      await nango.saveCheckpoint({ after });
    }
  },
});`;

export interface EventsProvider {
  url: string;
  events: Map<string, number>;
  requests: Array<{ from: string; after: string }>;
  /** Requests of the window starting here answer 400. */
  failFrom: string | null;
  delayMs: number;
  close(): Promise<void>;
}

export async function startEvents(count: number, delayMs = 150): Promise<EventsProvider> {
  const span = Date.parse('2026-11-01T00:00:00Z') - START;
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname !== '/events') return send(404, {});
    const from = url.searchParams.get('from') ?? '';
    const after = url.searchParams.get('after') ?? '';
    provider.requests.push({ from, after });
    await new Promise((r) => setTimeout(r, provider.delayMs)); // latency: parts overlap while they wait
    if (provider.failFrom !== null && from === provider.failFrom) return send(400, { error: 'window unavailable' });
    const lo = from ? Date.parse(from) : -Infinity;
    const hi = url.searchParams.get('to') ? Date.parse(url.searchParams.get('to')!) : Infinity;
    const limit = Number(url.searchParams.get('limit') ?? 100);
    const rest = [...provider.events].filter(([id, at]) => at >= lo && at < hi && id > after).sort(([a], [b]) => a.localeCompare(b));
    const page = rest.slice(0, limit);
    send(200, { events: page.map(([id, at]) => ({ id, at: new Date(at).toISOString() })), next: rest.length > limit ? page.at(-1)![0] : null });
  });
  const provider: EventsProvider = {
    url: '',
    events: new Map(Array.from({ length: count }, (_, i) => [`e${String(i).padStart(3, '0')}`, START + DAY + Math.floor((i * span) / count)])),
    requests: [],
    failFrom: null,
    delayMs,
    close: () => new Promise((done) => server.close(() => done())),
  };
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  provider.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return provider;
}
