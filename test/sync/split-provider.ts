/**
 * What the split-pass tests share: a host whose every test (and every attempt of one) sets up an
 * environment and a connection of its own (startSplitHost), so CI's retry of a test starts from
 * nothing deployed and no pass begun, whatever its first attempt left; a sync declaring `split`
 * (half-year windows from 2024-01-01) that reads its window (`nango.partition`) page by page with
 * a checkpoint; and a provider of dated events with latency, a window that can be made to fail,
 * and a log of the requests.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, onTestFinished } from 'vitest';
import type { DeployResponse } from '../../cli/deploy.ts';
import { deploySources, newEnvironment, readAll, startTestFerry, TEST_ADMIN_KEY, waitFor, type ApiClient, type TestFerry } from '../helpers/ferry.ts';

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

/** startEvents, closed when the test (this attempt of it) finishes. */
export async function startEventsForTest(count: number, delayMs?: number): Promise<EventsProvider> {
  const provider = await startEvents(count, delayMs);
  onTestFinished(() => provider.close());
  return provider;
}

export interface SplitSetUp {
  /** The provider's name: the scripts' folder and its catalog entry. */
  provider: string;
  /** Where this attempt's own provider server listens. */
  baseUrl: string;
  /** The provider's auth (none unless given). */
  auth?: Record<string, unknown>;
  /** Scripts by path below the provider's folder, e.g. `{ 'syncs/events.ts': SPLIT_SYNC }`. */
  scripts: Record<string, string>;
  /** The split sync the helpers below read, and its model. */
  sync: string;
  model: string;
}

/** The time split sync (SPLIT_SYNC unless `source` is another) as provider eventsp, reading the events server at `baseUrl`. */
export const eventsSplit = (baseUrl: string, source = SPLIT_SYNC): SplitSetUp =>
  ({ provider: 'eventsp', baseUrl, scripts: { 'syncs/events.ts': source }, sync: 'events', model: 'Event' });

export interface SplitRun {
  id: string;
  part: string | null;
  status: string;
  started_at: Date;
  finished_at: Date | null;
  deleted: number;
  resumed: boolean;
  fetch_checkpoint: unknown;
  error: { code: string; message: string } | null;
}

export interface SplitPart { part: string; status: string; next_run_at: Date | null }

export interface SplitConnection {
  /** The connection's id (its environment's name: unique in the file's database). */
  conn: string;
  /** Its environment's API. */
  api: ApiClient;
  /** GET /syncs/<sync>/status for the connection. */
  status(): Promise<any>;
  /** The connection's split parts (sync_parts), by part. */
  parts(): Promise<SplitPart[]>;
  /** The connection's runs of every script, oldest first. */
  runs(): Promise<SplitRun[]>;
  /** runs() of the split pass's parts only. */
  partRuns(): Promise<SplitRun[]>;
  /** The model's records not deleted, as GET /records gives them. */
  live(): Promise<any[]>;
  /** The ids of live(), sorted. */
  liveIds(): Promise<string[]>;
  /** The sync's pass in sync_state: lastSyncDate and the start of the pass going on. */
  syncState(): Promise<{ last_sync_date: Date | null; pass_started_at: Date | null }>;
  /** Waits (up to 120 s) for a split pass to have succeeded with a lastSyncDate later than `after` (any, when null). */
  passDone(after?: string | Date | null): Promise<any>;
}

export interface SplitEnvironment {
  name: string;
  api: ApiClient;
  /** Deploys scripts (by path below the provider's folder) to this environment, as `ferry deploy` does: they replace what it had. */
  deploy(scripts: Record<string, string>): Promise<DeployResponse>;
  /** A connection to the provider, named after the environment (`fields` added to its POST /connections, e.g. credentials): its syncs that auto-start begin at once. */
  connect(fields?: Record<string, unknown>): Promise<SplitConnection>;
}

export interface SplitHost {
  ferry: TestFerry;
  /** An environment of this attempt's own (`idForThisAttempt(base)`) with `setUp.scripts` deployed and the provider configured. */
  environment(base: string, setUp: SplitSetUp): Promise<SplitEnvironment>;
  /** The helpers for a connection made already, reading `sync` and its `model`. */
  connection(api: ApiClient, conn: string, read: Pick<SplitSetUp, 'sync' | 'model'>): SplitConnection;
  /** environment(), then connect(). */
  connect(base: string, setUp: SplitSetUp): Promise<SplitConnection>;
  close(): Promise<void>;
}

/** A whole host (2 runtime worker processes, retries after 200 ms unless `env` says otherwise) for split-pass tests. */
export async function startSplitHost(env: Record<string, string> = {}): Promise<SplitHost> {
  const ferry = await startTestFerry({ FERRY_RUNTIME_WORKERS: '2', FERRY_SYNC_RETRY_BASE_MS: '200', FERRY_ADMIN_KEY: TEST_ADMIN_KEY, ...env });
  const { sql } = ferry.db;

  const connection = (api: ApiClient, conn: string, setUp: Pick<SplitSetUp, 'sync' | 'model'>): SplitConnection => {
    const status = async () => (await api.get(`/syncs/${setUp.sync}/status?connection_id=${conn}`)).body;
    const live = async () => (await readAll(api, conn, setUp.model)).records.filter((r) => r._ferry_metadata.deleted_at === null);
    const runs = () => sql<SplitRun[]>`
      select r.id, r.part, r.status, r.started_at, r.finished_at, r.deleted, r.resumed, r.fetch_checkpoint, r.error
      from runs r join connections c on c.id = r.connection_id where c.connection_id = ${conn} order by r.id`;
    return {
      conn,
      api,
      status,
      parts: () => sql<SplitPart[]>`
        select p.part, p.status, p.next_run_at from sync_parts p join connections c on c.id = p.connection_id
        where c.connection_id = ${conn} order by p.part`,
      runs,
      partRuns: async () => (await runs()).filter((r) => r.part !== null),
      live,
      liveIds: async () => (await live()).map((r) => String(r.id)).sort(),
      syncState: async () => {
        const [row] = await sql<{ last_sync_date: Date | null; pass_started_at: Date | null }[]>`
          select s.last_sync_date, s.pass_started_at from sync_state s join connections c on c.id = s.connection_id
          where c.connection_id = ${conn} and s.sync_name = ${setUp.sync}`;
        if (!row) throw new Error(`no sync_state for ${setUp.sync} on ${conn}`);
        return row;
      },
      passDone: (after = null) => waitFor(`${setUp.sync}'s split pass to succeed on ${conn}`, async () => {
        const s = await status();
        const later = after === null || Date.parse(s.last_sync_date) > new Date(after).getTime();
        return s.last_sync_date !== null && later && s.split_pass === null ? s : undefined;
      }, 120_000),
    };
  };

  const environment = async (base: string, setUp: SplitSetUp): Promise<SplitEnvironment> => {
    const { name, key, api } = await newEnvironment(ferry, base);
    const deploy = (scripts: Record<string, string>) =>
      deploySources(ferry, Object.fromEntries(Object.entries(scripts).map(([path, source]) => [`${setUp.provider}/${path}`, source])), key);
    await deploy(setUp.scripts);
    const configured = await api.put(`/providers/${setUp.provider}`, { base_url: setUp.baseUrl, auth: setUp.auth ?? { type: 'none' } });
    if (configured.status !== 200) throw new Error(`PUT /providers/${setUp.provider} → ${configured.status}: ${JSON.stringify(configured.body)}`);
    return {
      name,
      api,
      deploy,
      async connect(fields = {}) {
        const made = await api.post('/connections', { connection_id: name, provider: setUp.provider, ...fields });
        if (made.status !== 201) throw new Error(`POST /connections ${name} → ${made.status}: ${JSON.stringify(made.body)}`);
        return connection(api, name, setUp);
      },
    };
  };

  return {
    ferry,
    environment,
    connection,
    connect: async (base, setUp) => (await environment(base, setUp)).connect(),
    close: () => ferry.close(),
  };
}

export interface PausedMidPass {
  provider: EventsProvider;
  connection: SplitConnection;
  /** The database's clock just after the pause was answered. */
  pausedAt: Date;
  /** The parts once the pause has settled: the one that was running succeeded, the others pending. */
  waiting: SplitPart[];
}

/**
 * A connection of its own (`name`, on a host with one runtime worker, so one part runs at a time)
 * whose first split pass is paused midway: one part running, slowly (the provider answers after
 * 1 s), and the others queued behind it; then the pause, the provider made fast, and a wait until
 * the running part has finished and every queued one was taken from the queue and left waiting.
 */
export async function pauseMidPass(host: SplitHost, name: string): Promise<PausedMidPass> {
  const provider = await startEventsForTest(30, 1_000);
  const connection = await host.connect(name, eventsSplit(provider.url));
  await waitFor('a part running and the others queued', async () => {
    const all = await connection.parts();
    return all.length > 2 && all.filter((p) => p.status === 'running').length === 1 && all.filter((p) => p.status === 'queued').length === all.length - 1 ? true : undefined;
  }, 60_000);
  expect((await connection.api.post('/syncs/events/pause', { connection_id: connection.conn })).status).toBe(200);
  const pausedAt = (await host.ferry.db.sql<{ now: Date }[]>`select now()`)[0]!.now;
  provider.delayMs = 0;
  const waiting = await waitFor('the queued parts waiting, none queued or running', async () => {
    const all = await connection.parts();
    return all.length > 0 && all.every((p) => p.status === 'pending' || p.status === 'succeeded') ? all : undefined;
  }, 60_000);
  return { provider, connection, pausedAt, waiting };
}
