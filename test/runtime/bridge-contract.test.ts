/**
 * One bridge contract. The same cases run through the host's bridge (a real host on Postgres,
 * the sync deployed and triggered, observed over the API) and through the in-memory bridge of
 * `ferry/testing` / `ferry dryrun` (host/sync/run-bridge.ts vs cli/collect.ts), against one real
 * provider server. Each case's observations — what the script saw (logged as OBS lines), its
 * other logs, the records as held afterwards, the connection's metadata and the run's error —
 * must equal the case's expectation on both.
 *
 * A case may run several times: each later run starts where the host left the earlier one
 * (records, metadata, a failed run's checkpoint), which the in-memory run is given.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createScriptTester, liveProxy, type ScriptRun, type ScriptTester } from '../../testing/index.ts';
import { deploySources, readAll, startTestFerry, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const PROVIDER = 'contract';
const CONFIG = { subdomain: 'acme' };
const START_METADATA = { region: 'eu' };

interface Observed {
  /** What the script logged as `OBS <json>`, in order. */
  seen: unknown[];
  /** Every other log line, level and message. */
  logs: Array<[string, string]>;
  /** Live records per model, by id, without Ferry's metadata. */
  records: Record<string, Record<string, unknown>>;
  metadata: unknown;
  error: { kind: string; code: string; message: string } | null;
}

interface Case {
  name: string;
  /** The body of `exec(nango)`; `obs(label, value)` records an observation. */
  exec: string;
  runs: number;
  expected: Observed[];
}

const header = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string(), name: z.string(), n: z.number() });
`;
const source = (c: Case) => `${header}
export default createSync({
  description: ${JSON.stringify(c.name)},
  frequency: 'every day',
  autoStart: false,
  retries: 0,
  models: { Item },
  exec: async (nango) => {
    const obs = (label: string, value: unknown) => nango.log('OBS ' + JSON.stringify([label, value ?? null]));
    const phase = Number((await nango.getMetadata()).phase ?? 0);
    ${c.exec}
  },
});`;

const item = (id: string, name: string, n: number) => ({ id, name, n });

const CASES: Case[] = [
  {
    name: 'batches',
    runs: 1,
    exec: `
      obs('saved', await nango.batchSave([{ id: 'a', name: 'A', n: 1 }, { id: 'b', name: 'B', n: 2 }, { id: 'c', name: 'C', n: 3 }, { id: 'bad', name: 'X', n: 'not a number' }], 'Item'));
      await nango.batchUpdate([{ id: 'b', name: 'B2' }], 'Item');
      await nango.batchDelete([{ id: 'c' }], 'Item');
      await nango.batchSave([{ id: 'a', name: 'A', n: 1 }], 'Item');
      try { await nango.batchSave([{ id: 'z' }], 'Nope'); } catch (e) { obs('unknown model', (e as Error).message); }`,
    expected: [{
      seen: [['saved', true], ['unknown model', 'Unknown model "Nope": this sync declares Item']],
      logs: [],
      records: { Item: { a: item('a', 'A', 1), b: item('b', 'B2', 2) } },
      metadata: START_METADATA,
      error: null,
    }],
  },
  {
    name: 'track-deletes',
    runs: 2,
    exec: `
      if (phase === 0) {
        await nango.batchSave([{ id: 'a', name: 'A', n: 1 }, { id: 'b', name: 'B', n: 2 }, { id: 'c', name: 'C', n: 3 }], 'Item');
      } else {
        await nango.trackDeletesStart('Item');
        await nango.batchSave([{ id: 'a', name: 'A2', n: 1 }], 'Item');
        await nango.trackDeletesEnd('Item');
        try { await nango.trackDeletesEnd('Item'); } catch (e) { obs('end again', (e as Error).message); }
      }
      await nango.updateMetadata({ phase: phase + 1 });`,
    expected: [
      { seen: [], logs: [], records: { Item: { a: item('a', 'A', 1), b: item('b', 'B', 2), c: item('c', 'C', 3) } }, metadata: { ...START_METADATA, phase: 1 }, error: null },
      { seen: [['end again', 'trackDeletesEnd("Item") without trackDeletesStart("Item")']], logs: [], records: { Item: { a: item('a', 'A2', 1) } }, metadata: { ...START_METADATA, phase: 2 }, error: null },
    ],
  },
  {
    // listRecords reads the records the host holds, this run's writes included, across pages (100 per host call).
    name: 'list-records',
    runs: 2,
    exec: `
      if (phase === 0) {
        await nango.batchSave(Array.from({ length: 120 }, (_, i) => ({ id: 'i' + String(i).padStart(3, '0'), name: 'N', n: i })), 'Item');
        await nango.batchDelete([{ id: 'i005' }], 'Item');
      }
      const ids: string[] = [];
      let first: unknown = null;
      for await (const record of nango.listRecords('Item')) {
        first ??= record;
        ids.push(record.id);
      }
      obs('listed', { count: ids.length, distinct: new Set(ids).size, last: ids.at(-1), deletedListed: ids.includes('i005') });
      obs('first', first);
      await nango.updateMetadata({ phase: phase + 1 });`,
    expected: [1, 2].map((phase) => ({
      seen: [['listed', { count: 119, distinct: 119, last: 'i119', deletedListed: false }], ['first', item('i000', 'N', 0)]],
      logs: [],
      records: { Item: Object.fromEntries(Array.from({ length: 120 }, (_, i) => 'i' + String(i).padStart(3, '0')).filter((id) => id !== 'i005').map((id) => [id, item(id, 'N', Number(id.slice(1)))])) },
      metadata: { ...START_METADATA, phase },
      error: null,
    })),
  },
  {
    name: 'checkpoints',
    runs: 2,
    exec: `
      obs('start', await nango.getCheckpoint());
      if (phase === 0) {
        await nango.saveCheckpoint({ page: 1 });
        obs('saved', await nango.getCheckpoint());
        await nango.clearCheckpoint();
        obs('cleared', await nango.getCheckpoint());
        await nango.batchSave([{ id: 'p1', name: 'page 1', n: 1 }], 'Item');
        await nango.saveCheckpoint({ page: 2 });
        await nango.updateMetadata({ phase: 1 });
        throw new Error('stopped after page 1');
      }
      await nango.batchSave([{ id: 'p2', name: 'page 2', n: 2 }], 'Item');`,
    expected: [
      {
        seen: [['start', null], ['saved', { page: 1 }], ['cleared', null]], logs: [],
        records: { Item: { p1: item('p1', 'page 1', 1) } }, metadata: { ...START_METADATA, phase: 1 },
        error: { kind: 'script', code: 'SCRIPT_ERROR', message: 'stopped after page 1' },
      },
      { seen: [['start', { page: 2 }]], logs: [], records: { Item: { p1: item('p1', 'page 1', 1), p2: item('p2', 'page 2', 2) } }, metadata: { ...START_METADATA, phase: 1 }, error: null },
    ],
  },
  {
    name: 'context',
    runs: 1,
    exec: `
      obs('lastSyncDate', nango.lastSyncDate);
      obs('connection', await nango.getConnection());
      obs('metadata', await nango.getMetadata());
      await nango.setMetadata({ replaced: true });
      obs('after set', await nango.getMetadata());
      await nango.updateMetadata({ merged: 1 });
      obs('after update', await nango.getMetadata());
      await nango.log('a warning', { level: 'warn' });
      console.error('to the error log');
      await nango.log('plain');`,
    expected: [{
      seen: [
        ['lastSyncDate', null],
        ['connection', { connection_id: 'context-1', provider: PROVIDER, provider_config_key: PROVIDER, connection_config: CONFIG, metadata: START_METADATA }],
        ['metadata', START_METADATA], ['after set', { replaced: true }], ['after update', { replaced: true, merged: 1 }],
      ],
      logs: [['warn', 'a warning'], ['error', 'to the error log'], ['info', 'plain']],
      records: {},
      metadata: { replaced: true, merged: 1 },
      error: null,
    }],
  },
  {
    name: 'proxy-errors',
    runs: 1,
    exec: `
      try { await nango.get({ endpoint: '/missing' }); } catch (e: any) { obs('404', { message: e.message, status: e.response?.status, data: e.response?.data }); }
      const ok = await nango.get({ endpoint: '/items', params: { page: '1' } });
      obs('200', { status: ok.status, data: ok.data });
      await nango.post({ endpoint: '/refuse', data: { a: 1 } });`,
    expected: [{
      seen: [
        ['404', { message: 'Request failed with status code 404: GET {url}/missing answered 404: {"error":"not found"}', status: 404, data: { error: 'not found' } }],
        ['200', { status: 200, data: { items: [{ id: 'i1' }], page: '1' } }],
      ],
      logs: [],
      records: {},
      metadata: START_METADATA,
      error: { kind: 'script', code: 'SCRIPT_ERROR', message: 'Request failed with status code 422: POST {url}/refuse answered 422: {"error":"refused"}' },
    }],
  },
];

function startProvider(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/items') return res.end(JSON.stringify({ items: [{ id: 'i1' }], page: url.searchParams.get('page') }));
    if (url.pathname === '/refuse') {
      res.statusCode = 422;
      return res.end(JSON.stringify({ error: 'refused' }));
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ error: 'not found' }));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((done) => server.close(() => done())),
  })));
}

function fromLogs(logs: Array<{ level: string; message: string }>): Pick<Observed, 'seen' | 'logs'> {
  const seen: unknown[] = [];
  const rest: Array<[string, string]> = [];
  for (const { level, message } of logs) {
    if (message.startsWith('OBS ')) seen.push(JSON.parse(message.slice(4)));
    else rest.push([level, message]);
  }
  return { seen, logs: rest };
}

const byId = (records: Array<Record<string, unknown>>) => Object.fromEntries(records.map(({ _ferry_metadata: _m, ...r }) => [String(r.id), r]));
const runError = (error: { kind: string; code: string; message: string } | null | undefined) => (error ? { kind: error.kind, code: error.code, message: error.message } : null);

let ferry: TestFerry;
let provider: Awaited<ReturnType<typeof startProvider>>;
let tester: ScriptTester;
let dir: string;

beforeAll(async () => {
  [ferry, provider] = await Promise.all([startTestFerry(), startProvider()]);
  tester = createScriptTester();
  dir = await mkdtemp(join(tmpdir(), 'ferry-contract-'));
  expect((await ferry.api.put(`/providers/${PROVIDER}`, { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  for (const c of CASES) {
    const created = await ferry.api.post('/connections', { connection_id: `${c.name}-1`, provider: PROVIDER, connection_config: CONFIG, metadata: START_METADATA });
    expect(created.status).toBe(201);
    await writeFile(join(dir, `${c.name}.ts`), source(c));
  }
  await deploySources(ferry, Object.fromEntries(CASES.map((c) => [`${PROVIDER}/syncs/${c.name}.ts`, source(c)])));
}, 120_000);
afterAll(async () => {
  await tester?.close();
  await ferry?.close();
  await provider?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the case on the host: trigger, wait, read what the API shows. */
async function onHost(c: Case): Promise<Observed[]> {
  const connection = `${c.name}-1`;
  const observed: Observed[] = [];
  let last = '0';
  for (let i = 0; i < c.runs; i++) {
    expect((await ferry.api.post(`/syncs/${c.name}/trigger`, { connection_id: connection })).status).toBe(202);
    const run = await waitForRun(ferry.api, connection, c.name, last);
    last = run.id;
    const { body } = await ferry.api.get(`/runs/${run.id}/logs?limit=5000`);
    const items = (await readAll(ferry.api, connection, 'Item').catch(() => ({ records: [] }))).records.filter((r) => r._ferry_metadata.last_action !== 'deleted');
    observed.push({
      ...fromLogs(body.logs),
      records: items.length > 0 ? { Item: byId(items) } : {},
      metadata: (await ferry.api.get(`/connections/${connection}/metadata`)).body,
      error: runError(run.error),
    });
  }
  return observed;
}

/** Runs the case in the in-memory bridge, each run starting where the host would have left the last. */
async function inMemory(c: Case): Promise<Observed[]> {
  const observed: Observed[] = [];
  let previous: ScriptRun | null = null;
  for (let i = 0; i < c.runs; i++) {
    const metadata = previous ? previous.metadata : START_METADATA;
    const held: ScriptRun | null = previous;
    const run: ScriptRun = await tester.run({
      script: join(dir, `${c.name}.ts`),
      proxy: liveProxy({ baseUrl: provider.url }),
      connection: { connection_id: `${c.name}-1`, provider: PROVIDER, connection_config: CONFIG, metadata },
      metadata,
      ...(held && { records: { Item: held.records('Item') } }),
      // The host keeps a failed run's checkpoint for the next run, and clears it on success.
      checkpoint: held && !held.ok ? (held.checkpoints.at(-1) as Record<string, unknown> | null) ?? null : null,
    });
    const items = run.records('Item');
    observed.push({
      ...fromLogs(run.logs),
      records: items.length > 0 ? { Item: byId(items) } : {},
      metadata: run.metadata,
      error: runError(run.error),
    });
    previous = run;
  }
  return observed;
}

const withUrl = (expected: Observed[]) => JSON.parse(JSON.stringify(expected).replaceAll('{url}', provider.url)) as Observed[];

describe('the bridge contract', () => {
  for (const c of CASES) {
    test(`${c.name}: the host's bridge`, async () => {
      expect(await onHost(c)).toEqual(withUrl(c.expected));
    }, 120_000);
    test(`${c.name}: the in-memory bridge (ferry/testing, ferry dryrun)`, async () => {
      expect(await inMemory(c)).toEqual(withUrl(c.expected));
    }, 120_000);
  }
});
