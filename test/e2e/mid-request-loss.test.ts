/**
 * The host's Postgres backends terminated (pg_terminate_backend, on this file's own database
 * only) in the middle of a request, at a point the test chooses, through a whole host over HTTP:
 *  - a GET /records page already streaming (status and first bytes sent) when its backend dies
 *    is cut short, never ended as if whole, so no reader takes part of a page for all of it;
 *    the host answers the same page whole once the database serves again, without a restart;
 *  - an action waiting on its provider when every backend of the host dies finishes: its
 *    answer is its output, its metadata write and its log lines are kept once, its run settles.
 * (test/sync/backend-killed-host.test.ts covers syncs, reads and writes under repeated kills;
 * test/sync/database-loss.test.ts a read failing before its first byte.)
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRecordStore } from '../../host/store/records.ts';
import { controlConnection, whileHolding, type Control } from '../helpers/lost-database.ts';
import { deploySources, idForThisAttempt, startTestFerry, TEST_SECRET_KEY, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { saveBatchOf, silentLogger } from '../store/fixtures.ts';

const SLOW_ACTION = `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({
  description: 'waits on its provider, then writes metadata',
  input: z.object({ tag: z.string() }),
  output: z.object({ tag: z.string(), got: z.string() }),
  models: { Row: z.object({ id: z.string() }).passthrough() },
  exec: async (nango, input) => {
    nango.log('before the call ' + input.tag);
    const res = await nango.get<{ ok: string }>({ endpoint: '/slow', retries: 0 });
    await nango.setMetadata({ tag: input.tag });
    nango.log('after the call ' + input.tag);
    return { tag: input.tag, got: res.data.ok };
  },
});`;

/** The row the page read waits at, holding a shared advisory lock the test holds exclusively. */
const GATE_ROW = 'r400';
const GATE_KEY = 4_380_001;

let ferry: TestFerry;
let control: Control;
let connectionInternalId: string;
const held: ServerResponse[] = [];
const provider = createServer((req, res) => {
  if (req.url?.startsWith('/slow')) held.push(res);
  else res.writeHead(404).end();
});

beforeAll(async () => {
  await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
  ferry = await startTestFerry();
  control = controlConnection(ferry, 'chaos-control');
  await deploySources(ferry, { 'chaosp/actions/slow.ts': SLOW_ACTION });
  const base = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  expect((await ferry.api.put('/providers/chaosp', { base_url: base, auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'chaos-1', provider: 'chaosp' })).status).toBe(201);
  const [row] = await ferry.db.sql<{ id: string }[]>`select id from connections where connection_id = 'chaos-1'`;
  connectionInternalId = row!.id;
  // 600 records of ~1 KB: the rows before the gate fill several of the page's 64 KB chunks.
  const store = createRecordStore({ sql: ferry.db.sql, logger: silentLogger, embedded: false });
  await store.saveBatch({
    connectionId: connectionInternalId,
    batch: saveBatchOf('Row', Array.from({ length: 600 }, (_, i) => ({ id: `r${String(i).padStart(3, '0')}`, padding: 'p'.repeat(1000) }))),
  });
}, 120_000);
afterAll(async () => {
  for (const res of held.splice(0)) res.destroy();
  await control?.end({ timeout: 5 });
  await ferry?.close();
  await new Promise((r) => provider.close(r));
});

/** Terminates the host's backends (never the test's own), optionally only those waiting on a lock. */
async function terminateHost(onlyLockWaiters: boolean): Promise<number> {
  const [row] = await control<{ n: number }[]>`
    select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
    where datname = current_database() and application_name = 'ferry' and pid <> pg_backend_pid()
      and (not ${onlyLockWaiters} or wait_event_type = 'Lock')`;
  return row!.n;
}

describe('GET /records whose backend dies mid-page', () => {
  beforeAll(async () => {
    // `records` becomes a view whose rows pass one by one, in the page's order; the gate row
    // waits on an advisory lock, so the page stops there with its earlier rows already sent.
    await ferry.db.sql.unsafe(`
      alter table records rename to records_stored;
      create function chaos_gate(row_id text) returns boolean language plpgsql volatile as $$
      begin
        if row_id = '${GATE_ROW}' then perform pg_advisory_xact_lock_shared(${GATE_KEY}); end if;
        return true;
      end $$;
      create view records as select * from records_stored where chaos_gate(id);`);
  });
  afterAll(async () => {
    await ferry.db.sql.unsafe('drop view records; drop function chaos_gate(text); alter table records_stored rename to records;');
  });

  const get = () => fetch(`${ferry.url}/records?connection_id=chaos-1&model=Row&limit=600`, { headers: { authorization: `Bearer ${TEST_SECRET_KEY}` } });

  test('is cut short, never ended as a whole page; the next read is whole, the host never restarted', async () => {
    const cut = await whileHolding(control, (tx) => tx`select pg_advisory_xact_lock(${GATE_KEY})`, async () => {
      const response = await get();
      // The status line and first bytes are out: the page is past the point a retry could hide it.
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const first = await reader.read();
      expect(first.done).toBe(false);
      await waitFor('the page read to wait at the gate row', async () => ((await terminateHost(true)) > 0 ? true : undefined));
      const chunks = [Buffer.from(first.value!)];
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return { ended: true, text: Buffer.concat(chunks).toString('utf8') };
          chunks.push(Buffer.from(value));
        }
      } catch (error) {
        return { ended: false, text: Buffer.concat(chunks).toString('utf8'), error };
      }
    });
    expect(cut.ended).toBe(false);
    // Some whole records came before the cut (jsonb prints `"id": "r000"`), the gate row never.
    expect(cut.text.startsWith('{"records":[\n{')).toBe(true);
    expect(cut.text).toContain('"r000"');
    expect(() => JSON.parse(cut.text)).toThrow();
    expect(cut.text).not.toContain(`"${GATE_ROW}"`);

    // The lock is gone: the same host reads the whole page, at once and concurrently.
    const pages = await Promise.all(Array.from({ length: 4 }, async () => {
      const response = await get();
      expect(response.status).toBe(200);
      return (await response.json()) as { records: Array<{ id: string; padding: string }>; next_cursor: string | null };
    }));
    for (const page of pages) {
      expect(page.records.map((r) => r.id)).toEqual(Array.from({ length: 600 }, (_, i) => `r${String(i).padStart(3, '0')}`));
      expect(page.records.every((r) => r.padding === 'p'.repeat(1000))).toBe(true);
    }
    expect((await ferry.api.get('/healthz')).status).toBe(200);
  }, 120_000);
});

describe('an action whose host loses every backend while it waits on its provider', () => {
  test('answers its output; its metadata and log lines are kept once; its run settles succeeded', async () => {
    const tag = idForThisAttempt('lost-mid-action');
    const answer = fetch(`${ferry.url}/actions/slow`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_SECRET_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connection_id: 'chaos-1', input: { tag } }),
    });
    const waiting = await waitFor('the action to call its provider', async () => held.shift());
    // Every backend the host holds dies, idle ones in its pool included, while the run is mid-flight.
    expect(await terminateHost(false)).toBeGreaterThan(0);
    waiting.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: 'yes' }));

    const response = await answer;
    const body = (await response.json()) as { output?: unknown; run_id?: string; error?: { code: string } };
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body.output).toEqual({ tag, got: 'yes' });
    expect((await ferry.api.get('/connections/chaos-1/metadata')).body).toEqual({ tag });
    const run = await waitFor('the run to settle', async () => {
      const { body: r } = await ferry.api.get(`/runs/${body.run_id}`);
      return r?.status && r.status !== 'running' ? r : undefined;
    });
    expect(run).toMatchObject({ status: 'succeeded', kind: 'action' });
    const logs = (await ferry.api.get(`/runs/${body.run_id}/logs`)).body.logs.map((l: { message: string }) => l.message);
    expect(logs).toEqual([`before the call ${tag}`, `after the call ${tag}`]);
    const [runs] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from runs where kind = 'action' and id = ${body.run_id!}`;
    expect(runs!.n).toBe(1);
    expect((await ferry.api.get('/healthz')).status).toBe(200);
  }, 120_000);
});
