/**
 * Sync variants through a whole host (API, scheduler, runtime workers) on real Postgres against a
 * real provider server: one deployed sync of mailboxes, run as independent copies on one
 * connection. Each variant reads its own mailbox (`nango.variant`), keeps its own records (the
 * same message ids in two mailboxes stay two records), lastSyncDate, checkpoint and full-refresh
 * deletes; the base variant behaves as a sync without variants. Variants are added, listed and
 * removed through the API, the client and the CLI; bad input is a 4xx JSON answer.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createFerryClient } from '../../client/index.ts';
import { deploySources, idForThisAttempt, startTestFerry, TEST_SECRET_KEY, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { deployProvider } from '../helpers/items-connection.ts';

const REPO = resolve(import.meta.dirname, '../..');

const SYNC = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Message = z.object({ id: z.string(), subject: z.string(), mailbox: z.string() });
export default createSync({
  description: 'the messages of one mailbox: the base variant reads the inbox, any other the mailbox it is named after',
  frequency: 'every 1 hour',
  syncType: 'full',
  trackDeletes: true,
  models: { Message },
  exec: async (nango) => {
    const mailbox = nango.variant === 'base' ? 'inbox' : nango.variant;
    let after = ((await nango.getCheckpoint()) as { after?: string } | null)?.after ?? '';
    for (;;) {
      const res = await nango.get<{ messages: Array<{ id: string; subject: string }>; next: string | null }>({
        endpoint: '/mailboxes/' + mailbox + '/messages', params: { after, limit: '2' }, retries: 0,
      });
      await nango.batchSave(res.data.messages.map((m) => ({ ...m, mailbox })), 'Message');
      if (!res.data.next) break;
      after = res.data.next;
      await nango.saveCheckpoint({ after });
    }
  },
});`;

/** One account's mailboxes at the provider: the messages in each, the pages asked for, the pages that fail. */
interface Account {
  boxes: Map<string, Map<string, string>>;
  requests: Array<{ mailbox: string; after: string }>;
  /** Pages (mailbox:after) that answer 400. */
  failing: Set<string>;
}

interface Mailboxes {
  url: string;
  /** The account at `/accounts/<name>`, made on first use with an inbox of 3 messages, work of 5 and home of 2. */
  account(name: string): Account;
  close(): Promise<void>;
}

async function startMailboxes(): Promise<Mailboxes> {
  const box = (prefix: string, n: number) => new Map(Array.from({ length: n }, (_, i) => [String(i + 1).padStart(3, '0'), `${prefix} ${i + 1}`]));
  const accounts = new Map<string, Account>();
  const account = (name: string) => {
    let found = accounts.get(name);
    if (!found) {
      found = { boxes: new Map([['inbox', box('inbox', 3)], ['work', box('work', 5)], ['home', box('home', 2)]]), requests: [], failing: new Set() };
      accounts.set(name, found);
    }
    return found;
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const match = /^\/accounts\/([^/]+)\/mailboxes\/([^/]+)\/messages$/.exec(url.pathname);
    const owner = match ? account(decodeURIComponent(match[1]!)) : undefined;
    const messages = match ? owner?.boxes.get(match[2]!) : undefined;
    if (!match || !owner || !messages) return send(404, { error: 'no such mailbox' });
    const after = url.searchParams.get('after') ?? '';
    owner.requests.push({ mailbox: match[2]!, after });
    if (owner.failing.has(`${match[2]}:${after}`)) return send(400, { error: 'page unavailable' });
    const limit = Number(url.searchParams.get('limit') ?? 100);
    const rest = [...messages].filter(([id]) => id > after).sort(([x], [y]) => x.localeCompare(y));
    const page = rest.slice(0, limit);
    send(200, { messages: page.map(([id, subject]) => ({ id, subject })), next: rest.length > limit ? page.at(-1)![0] : null });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    account,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

let ferry: TestFerry;
let provider: Mailboxes;

beforeAll(async () => {
  provider = await startMailboxes();
  ferry = await startTestFerry({ FERRY_SYNC_RETRY_BASE_MS: '200' });
  // Each connection reads an account of its own (connection_config.account): a test's mailboxes are its own.
  await deployProvider(ferry, { provider: 'mailp', baseUrl: `${provider.url}/accounts/\${connectionConfig.account}`, scripts: { 'syncs/messages.ts': SYNC } });
}, 120_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

/** Every record of Message in the variant (undefined: no variant parameter), following next_cursor. */
async function records(conn: string, variant?: string) {
  const all: Array<{ id: string; subject: string; mailbox: string; _ferry_metadata: { deleted_at: string | null } }> = [];
  let cursor: string | null = null;
  for (;;) {
    const params: Record<string, string> = { connection_id: conn, model: 'Message', limit: '100' };
    if (variant !== undefined) params.variant = variant;
    if (cursor) params.cursor = cursor;
    const { status, body } = await ferry.api.get(`/records?${q(params)}`);
    expect(status, JSON.stringify(body)).toBe(200);
    all.push(...body.records);
    if (body.next_cursor === null || body.records.length === 0) return all;
    cursor = body.next_cursor;
  }
}
const live = async (conn: string, variant?: string) => (await records(conn, variant)).filter((r) => r._ferry_metadata.deleted_at === null).map((r) => `${r.mailbox}/${r.id}`).sort();

/** The newest finished run of the variant after `afterRunId`. */
function finishedRun(conn: string, variant: string, afterRunId = '0', timeoutMs = 60_000) {
  return waitFor(`a finished run of variant ${variant} of ${conn} after ${afterRunId}`, async () => {
    const { body } = await ferry.api.get(`/runs?${q({ connection_id: conn, sync: 'messages', variant, limit: '1' })}`);
    const run = body?.runs?.[0];
    return run && BigInt(run.id) > BigInt(afterRunId) && run.status !== 'running' ? run : undefined;
  }, timeoutMs);
}
const status = async (conn: string, variant?: string) => (await ferry.api.get(`/syncs/messages/status?${q({ connection_id: conn, ...(variant && { variant }) })}`)).body;

const WORK = ['work/001', 'work/002', 'work/003', 'work/004', 'work/005'];

/**
 * A connection of this attempt's own, reading an account of its own, once its base variant's
 * first run has finished; with `work`, the variant `work` is added and its first run has
 * finished too. Each test starts from one, so that CI's retry of it starts as its first attempt did.
 */
async function mailConnection(options: { work?: boolean } = {}): Promise<{ conn: string; account: Account }> {
  const conn = idForThisAttempt('mail');
  expect((await ferry.api.post('/connections', { connection_id: conn, provider: 'mailp', connection_config: { account: conn } })).status).toBe(201);
  expect(await finishedRun(conn, 'base')).toMatchObject({ status: 'succeeded' });
  if (options.work) {
    const added = await ferry.api.post('/syncs/messages/variants', { connection_id: conn, variant: 'work' });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(await finishedRun(conn, 'work')).toMatchObject({ status: 'succeeded' });
  }
  return { conn, account: provider.account(conn) };
}

describe('sync variants', () => {
  test('the base variant is the sync as before: its records are read without a variant parameter', async () => {
    const { conn } = await mailConnection();
    const run = await finishedRun(conn, 'base');
    expect(run).toMatchObject({ status: 'succeeded', variant: 'base' });
    expect(await live(conn)).toEqual(['inbox/001', 'inbox/002', 'inbox/003']);
    expect(await live(conn, 'base')).toEqual(await live(conn));
    const listed = await ferry.api.get(`/syncs/messages/variants?${q({ connection_id: conn })}`);
    expect(listed.status).toBe(200);
    expect(listed.body.variants.map((v: { variant: string }) => v.variant)).toEqual(['base']);
  });

  test('an added variant runs at once on its own data, and its records are a stream of their own', async () => {
    const { conn, account } = await mailConnection();
    const added = await ferry.api.post('/syncs/messages/variants', { connection_id: conn, variant: 'work' });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body).toMatchObject({ sync: 'messages', connection_id: conn, variant: 'work', paused: false, schedule: 'every 1 hour', last_sync_date: null });

    const run = await finishedRun(conn, 'work');
    expect(run).toMatchObject({ status: 'succeeded', variant: 'work', counts: { added: 5 } });
    expect(account.requests.filter((r) => r.mailbox === 'work').length).toBeGreaterThan(0);
    // The same ids as the inbox's, kept apart: each variant sees only its own.
    expect(await live(conn, 'work')).toEqual(WORK);
    expect(await live(conn)).toEqual(['inbox/001', 'inbox/002', 'inbox/003']);

    const runs = await ferry.api.get(`/runs?${q({ connection_id: conn, variant: 'work' })}`);
    expect(runs.body.runs.every((r: { variant: string }) => r.variant === 'work')).toBe(true);
    const work = await status(conn, 'work');
    expect(work).toMatchObject({ variant: 'work', state: 'idle', last_run: { id: run.id } });
    expect(work.last_sync_date).not.toBeNull();
  });

  test('each variant has its own checkpoint and lastSyncDate: a failing variant leaves the other alone and resumes where it stopped', async () => {
    const { conn, account } = await mailConnection({ work: true });
    const before = (await status(conn, 'work')).last_sync_date;
    const baseBefore = await status(conn);
    account.failing.add('work:002');
    const lastWork = (await finishedRun(conn, 'work')).id;
    expect((await ferry.api.post('/syncs/messages/trigger', { connection_id: conn, variant: 'work' })).status).toBe(202);
    const failed = await finishedRun(conn, 'work', lastWork);
    expect(failed.status).toBe('failed');
    const work = await status(conn, 'work');
    expect(work.checkpoint).toEqual({ after: '002' });
    expect(work.last_sync_date).toBe(before);
    expect(work.consecutive_failures).toBeGreaterThan(0);
    // The base variant's state did not move.
    const base = await status(conn);
    expect(base).toMatchObject({ checkpoint: null, last_sync_date: baseBefore.last_sync_date, consecutive_failures: 0 });

    account.failing.clear();
    const resumed = await waitFor('a succeeded run of work', async () => {
      const run = await finishedRun(conn, 'work', failed.id);
      if (run.status === 'succeeded') return run;
      return undefined;
    }, 60_000);
    expect(resumed.fetch_window.checkpoint).toEqual({ after: '002' });
    expect((await status(conn, 'work')).last_sync_date > before).toBe(true);
    expect((await status(conn, 'work')).checkpoint).toBeNull();
  });

  test('full-refresh deletes are per variant: a message gone from one mailbox is deleted there only', async () => {
    const { conn, account } = await mailConnection({ work: true });
    account.boxes.get('work')!.delete('002');
    const last = (await finishedRun(conn, 'work')).id;
    expect((await ferry.api.post('/syncs/messages/trigger', { connection_id: conn, variant: 'work', full: true })).status).toBe(202);
    const run = await finishedRun(conn, 'work', last);
    expect(run).toMatchObject({ status: 'succeeded', counts: { deleted: 1 } });
    expect(await live(conn, 'work')).toEqual(['work/001', 'work/003', 'work/004', 'work/005']);
    // The inbox's 002 is another record: untouched, and the next base pass keeps it.
    const lastBase = (await finishedRun(conn, 'base')).id;
    await ferry.api.post('/syncs/messages/trigger', { connection_id: conn, full: true });
    expect(await finishedRun(conn, 'base', lastBase)).toMatchObject({ status: 'succeeded', counts: { deleted: 0 } });
    expect(await live(conn)).toEqual(['inbox/001', 'inbox/002', 'inbox/003']);
  });

  test('a variant has its own schedule and pause', async () => {
    const { conn } = await mailConnection({ work: true });
    const paused = await ferry.api.post('/syncs/messages/pause', { connection_id: conn, variant: 'work' });
    expect(paused.body).toEqual({ sync: 'messages', variant: 'work', provider: 'mailp', connection_id: conn, paused: true });
    const scheduled = await ferry.api.put('/syncs/messages/schedule', { connection_id: conn, variant: 'work', frequency: 'every 2 hours' });
    expect(scheduled.status).toBe(200);
    expect(await status(conn, 'work')).toMatchObject({ paused: true, schedule_override: 'every 2 hours' });
    expect(await status(conn)).toMatchObject({ paused: false, schedule_override: null });
    await ferry.api.post('/syncs/messages/resume', { connection_id: conn, variant: 'work' });
  });

  test('bad input is a 4xx JSON answer naming what was wrong', async () => {
    const { conn } = await mailConnection({ work: true });
    const bad = await ferry.api.post('/syncs/messages/variants', { connection_id: conn, variant: 'has space' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toEqual(['body', 'variant']);
    const dup = await ferry.api.post('/syncs/messages/variants', { connection_id: conn, variant: 'work' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('VARIANT_EXISTS');
    expect((await ferry.api.post('/syncs/messages/variants', { connection_id: conn, variant: 'base' })).status).toBe(409);
    const badSchedule = await ferry.api.post('/syncs/messages/variants', { connection_id: conn, variant: 'x', frequency: 'whenever' });
    expect(badSchedule.status).toBe(400);
    expect(badSchedule.body.error.issues[0].path).toEqual(['frequency']);
    expect((await ferry.api.post('/syncs/nope/variants', { connection_id: conn, variant: 'x' })).status).toBe(404);
    expect((await ferry.api.post('/syncs/messages/variants', { connection_id: 'nobody', variant: 'x' })).status).toBe(404);
    expect((await ferry.api.post('/syncs/messages/trigger', { connection_id: conn, variant: 'nope' })).status).toBe(404);
    const unknown = await ferry.api.get(`/records?${q({ connection_id: conn, model: 'Message', variant: 'nope' })}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('UNKNOWN_VARIANT');
    expect(unknown.body.error.message).toContain('work');
    const removeBase = await ferry.api.request('DELETE', `/syncs/messages/variants/base?${q({ connection_id: conn })}`);
    expect(removeBase.status).toBe(409);
    expect(removeBase.body.error.code).toBe('BASE_VARIANT');
    expect((await ferry.api.request('DELETE', `/syncs/messages/variants/nope?${q({ connection_id: conn })}`)).status).toBe(404);
  });

  test('the client adds, lists, reads and removes a variant; removing marks its records deleted and nothing else', async () => {
    const { conn } = await mailConnection({ work: true });
    const client = createFerryClient({ url: ferry.url, secretKey: TEST_SECRET_KEY });
    const added = await client.addSyncVariant('messages', { connectionId: conn, variant: 'home', frequency: 'every 30 minutes' });
    expect(added).toMatchObject({ variant: 'home', schedule_override: 'every 30 minutes' });
    expect((await client.syncVariants('messages', { connectionId: conn })).map((v) => v.variant)).toEqual(['base', 'home', 'work']);
    await finishedRun(conn, 'home');
    const read: string[] = [];
    for await (const r of client.records<{ mailbox: string }>({ connectionId: conn, model: 'Message', variant: 'home' })) read.push(`${r.mailbox}/${r.id}`);
    expect(read).toEqual(['home/001', 'home/002']);

    const removed = await client.removeSyncVariant('messages', { connectionId: conn, variant: 'home' });
    expect(removed).toEqual({ deletedRecords: 2 });
    const after = await records(conn, 'home');
    expect(after.map((r) => r._ferry_metadata.deleted_at !== null)).toEqual([true, true]);
    expect((await ferry.api.get(`/syncs/messages/status?${q({ connection_id: conn, variant: 'home' })}`)).status).toBe(404);
    expect(await live(conn)).toEqual(['inbox/001', 'inbox/002', 'inbox/003']);
    expect(await live(conn, 'work')).toEqual(WORK);
  });

  test('the CLI lists, adds and removes variants and triggers one', async () => {
    const { conn } = await mailConnection({ work: true });
    const cli = (...args: string[]) => promisify(execFile)(process.execPath, [join(REPO, 'cli/bin.ts'), ...args, '--url', ferry.url, '--key', TEST_SECRET_KEY], { cwd: REPO });
    const listed = await cli('variants', 'messages', '-c', conn);
    expect(listed.stdout).toMatch(/base/);
    expect(listed.stdout).toMatch(/work/);
    const added = JSON.parse((await cli('variants', 'messages', '-c', conn, '--add', 'home', '--json')).stdout);
    expect(added).toMatchObject({ ok: true, variant: 'home' });
    await finishedRun(conn, 'home', '0');
    const triggered = await cli('trigger', 'messages', '-c', conn, '--variant', 'home');
    expect(triggered.stdout).toContain('variant home');
    const runs = await cli('runs', '--connection', conn, '--sync', 'messages', '--variant', 'home');
    expect(runs.stdout).toContain('messages (home)');
    expect(runs.stdout).not.toMatch(/messages \((work|base)\)/);
    const removed = JSON.parse((await cli('variants', 'messages', '-c', conn, '--remove', 'home', '--json')).stdout);
    expect(removed).toMatchObject({ ok: true, variant: 'home' });
    expect((await ferry.api.get(`/syncs/messages/variants?${q({ connection_id: conn })}`)).body.variants.map((v: { variant: string }) => v.variant)).toEqual(['base', 'work']);
    const refused = await cli('variants', 'messages', '-c', conn, '--remove', 'base').catch((err: { code: number; stderr: string }) => err);
    expect((refused as { code: number }).code).toBe(1);
  });

  test("the mass-delete guard holds a variant's deletes for that variant; the app's webhook names the variant", async () => {
    const { conn, account } = await mailConnection({ work: true });
    const received: Array<Record<string, unknown>> = [];
    const app: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((done) => app.listen(0, '127.0.0.1', done));
    try {
      expect((await ferry.api.put('/environment/settings', { webhook_url: `http://127.0.0.1:${(app.address() as AddressInfo).port}/hook` })).status).toBe(200);
      // The work mailbox answers empty: deleting every live record is held, not applied.
      account.boxes.set('work', new Map());
      const last = (await finishedRun(conn, 'work')).id;
      await ferry.api.post('/syncs/messages/trigger', { connection_id: conn, variant: 'work', full: true });
      const run = await finishedRun(conn, 'work', last);
      expect(run.status).toBe('succeeded');
      expect(run.warnings[0]).toMatchObject({ code: 'DELETES_HELD', model: 'Message', held: 5 });
      expect(run.warnings[0].message).toContain('variant "work"');

      const held = await ferry.api.get(`/syncs/messages/held-deletes?${q({ connection_id: conn, variant: 'work' })}`);
      expect(held.body.held).toEqual([expect.objectContaining({ model: 'Message', count: 5 })]);
      expect((await ferry.api.get(`/syncs/messages/held-deletes?${q({ connection_id: conn })}`)).body.held).toEqual([]);
      // Applying the base variant's (none) leaves work's held deletes where they are.
      expect((await ferry.api.post('/syncs/messages/held-deletes/apply', { connection_id: conn })).body.applied).toEqual([]);
      expect(await live(conn, 'work')).toHaveLength(5);
      const applied = await ferry.api.post('/syncs/messages/held-deletes/apply', { connection_id: conn, variant: 'work', model: 'Message' });
      expect(applied.body.applied).toEqual([expect.objectContaining({ model: 'Message', deleted: 5 })]);
      expect(await live(conn, 'work')).toEqual([]);
      expect(await live(conn)).toEqual(['inbox/001', 'inbox/002', 'inbox/003']);

      const event = await waitFor('the webhook of the work run', async () => received.find((e) => e.run_id === run.id));
      expect(event).toMatchObject({ type: 'sync', sync_name: 'messages', variant: 'work', model: 'Message' });
      const baseLast = (await finishedRun(conn, 'base')).id;
      account.boxes.get('inbox')!.set('004', 'inbox 4');
      await ferry.api.post('/syncs/messages/trigger', { connection_id: conn });
      const baseRun = await finishedRun(conn, 'base', baseLast);
      const baseEvent = await waitFor('the webhook of the base run', async () => received.find((e) => e.run_id === baseRun.id));
      expect(baseEvent).toMatchObject({ type: 'sync', model: 'Message', counts: { added: 1 } });
      expect(baseEvent).not.toHaveProperty('variant');
    } finally {
      await ferry.api.put('/environment/settings', { webhook_url: null });
      await new Promise<void>((done) => app.close(() => done()));
    }
  });

  test('a model name with "::" (how variant records are stored) is refused at deploy, naming why', async () => {
    const refused = await deploySources(ferry, { 'mailp/syncs/odd.ts': SYNC.replace('models: { Message }', "models: { 'Message::x': Message }").replace(", 'Message')", ", 'Message::x' as never)") })
      .then(() => null, (err: Error) => err);
    expect(refused?.message).toContain('may not contain "::"');
  });
});
