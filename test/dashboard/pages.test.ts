/**
 * The dashboard in a real Chromium against a whole host (API, worker, runtime children, the
 * demo's HTTP providers): sign in, the overview, a sync's page with Run now and the new run's
 * peak memory, its logs, records, rolling back a deploy, and another environment's ids as 404
 * pages. Screenshots of the main pages go to test-artifacts/.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createLogger } from '../../host/logger.ts';
import { setUpDemoWithScripts } from '../../cli/demo.ts';
import { DEMO_CONNECTION_ID, type DemoSetup } from '../../host/demo.ts';
import { launchBrowser, screenshot } from '../helpers/browser.ts';
import { deploySources, newEnvironment, startTestFerry, TEST_SECRET_KEY, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const ADMIN_KEY = 'admin_key_dashboard_0123456789';
const SYNC = 'contacts';

let ferry: TestFerry;
let demo: DemoSetup;
let browser: Browser;
let page: Page;
let dashboard: string;

beforeAll(async () => {
  ferry = await startTestFerry({ FERRY_ADMIN_KEY: ADMIN_KEY });
  demo = await setUpDemoWithScripts({ url: ferry.url, secretKey: TEST_SECRET_KEY, logger: createLogger({ level: 'silent' }), scriptsDir: fileURLToPath(new URL('../../scripts', import.meta.url)) });
  // The demo's first contacts run starts at once; the pages below read its results.
  await waitForRun(ferry.api, DEMO_CONNECTION_ID, SYNC, '0', 60_000);
  browser = await launchBrowser();
  dashboard = `${ferry.url}/dashboard`;
}, 120_000);

// Each test (each attempt of it, on CI's retry) gets a page of its own, signed in: no cookie,
// dialog handler or half-done navigation of an earlier test or attempt carries over.
beforeEach(async () => {
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, TEST_SECRET_KEY);
  await page.waitForSelector('h1:has-text("Overview")');
}, 60_000);
afterEach(async () => {
  await page?.context().close();
});

afterAll(async () => {
  await browser?.close();
  await demo?.close();
  await ferry?.close();
});

async function signIn(p: Page, key: string) {
  await p.goto(`${dashboard}/sign-in`);
  await p.fill('#key', key);
  await p.click('button[type=submit]');
}

describe('the dashboard in a browser', () => {
  test('asks for a key, refuses a wrong one, and keeps the right one in an http-only same-site cookie', async () => {
    // Signed out (every test's page starts signed in).
    await page.context().clearCookies();
    await page.goto(dashboard);
    expect(new URL(page.url()).pathname).toBe('/dashboard/sign-in');
    await signIn(page, 'fsk_not_a_key_of_anyone');
    await expect.poll(() => page.textContent('[role=alert]')).toContain('Unknown or revoked secret key');

    await signIn(page, TEST_SECRET_KEY);
    await page.waitForSelector('h1:has-text("Overview")');
    const [cookie] = (await page.context().cookies()).filter((c) => c.name === 'ferry_dashboard');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/dashboard' });
    expect(await page.textContent('#syncs')).toContain(DEMO_CONNECTION_ID);
    await screenshot(page, 'overview');
  });

  test('a sync page: Run now makes a new run appear, without a reload, with its peak memory', async () => {
    await page.goto(dashboard);
    await page.click(`#syncs tr:has-text("${DEMO_CONNECTION_ID}") a:text-is("${SYNC}")`);
    await page.waitForSelector(`h1:has-text("${SYNC}")`);
    expect(await page.locator('svg.chart rect.peak').count()).toBeGreaterThan(0);
    const before = await page.locator('#runs tbody tr[data-run]').first().getAttribute('data-run');

    await page.click('button:text-is("Run now")');
    await expect.poll(() => page.textContent('[role=status]')).toMatch(/queued/);
    // The run list is a live region: the new run shows up and finishes on this same page.
    const navigations: string[] = [];
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
    const newRun = page.locator('#runs tbody tr[data-run]').first();
    await expect.poll(async () => BigInt((await newRun.getAttribute('data-run')) ?? '0') > BigInt(before!), { timeout: 60_000 }).toBe(true);
    await expect.poll(() => newRun.getAttribute('data-status'), { timeout: 60_000 }).toBe('succeeded');
    expect(navigations).toEqual([]);
    expect(await newRun.locator('td.peak-memory').textContent()).toMatch(/\d+(\.\d)? (KiB|MiB) \/ 128 MiB/);
    expect(await newRun.textContent()).toContain('manual');
    // The fetch window: an incremental run starts from the lastSyncDate the previous run left.
    expect(await newRun.textContent()).toMatch(/since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    await screenshot(page, 'sync');

    await newRun.locator('a').first().click();
    await page.waitForSelector('h1:has-text("Run #")');
    expect(await page.textContent('#logs')).toContain('Fetching contacts updated since');
    expect(await page.textContent('#peak-memory')).toMatch(/(KiB|MiB) of 128 MiB/);
    expect(await page.locator('#calls tbody tr').count()).toBeGreaterThan(0);
    expect(await page.textContent('#calls')).toMatch(/GET/);
    await screenshot(page, 'run');
  }, 120_000);

  test('Full run asks first, then runs everything again; the chart draws the memory limit and durations; the overview lists actions and success rates', async () => {
    await page.goto(`${dashboard}/connections/${DEMO_CONNECTION_ID}/syncs/${SYNC}`);
    const before = await page.locator('#runs tbody tr[data-run]').first().getAttribute('data-run');
    page.once('dialog', (d) => void d.accept());
    await page.click('button:text-is("Full run")');
    await expect.poll(() => page.textContent('[role=status]')).toMatch(/Full run queued|already queued; it will be a full run/);
    const newRun = page.locator('#runs tbody tr[data-run]').first();
    await expect.poll(async () => BigInt((await newRun.getAttribute('data-run')) ?? '0') > BigInt(before!), { timeout: 60_000 }).toBe(true);
    await expect.poll(() => newRun.getAttribute('data-status'), { timeout: 60_000 }).toBe('succeeded');
    // A full run fetched everything (no lastSyncDate); the contacts it already had count as unchanged.
    const cells = await newRun.locator('td').allTextContents();
    expect([cells[2], cells[4]]).toEqual(['full', 'everything (full)']);
    const [added, updated, deleted, unchanged, rejected] = cells.slice(5, 10).map(Number);
    expect(added! + updated! + unchanged!).toBe(500);
    expect(unchanged).toBeGreaterThan(0);
    expect([deleted, rejected]).toEqual([0, 0]);
    expect(cells[10]).toMatch(/\d+(\.\d+)? m?s/); // wall
    expect(cells[11]).toMatch(/\d+(\.\d+)? m?s/); // CPU
    expect(await page.locator('svg.chart line.limit').count()).toBeGreaterThan(0);
    expect(await page.locator('svg.chart circle.duration').count()).toBeGreaterThan(1);
    expect(await page.textContent('svg.chart')).toContain('memory limit, 128 MiB');

    await page.goto(dashboard);
    expect(await page.textContent('#actions')).toContain('create-contact');
    expect(await page.textContent(`#syncs tr:has-text("${DEMO_CONNECTION_ID}"):has(a:text-is("${SYNC}"))`)).toMatch(/\d+ % of \d+/);
  }, 120_000);

  test('records: pages by cursor, filters, finds one by id and shows its JSON and metadata', async () => {
    await page.goto(`${dashboard}/connections/${DEMO_CONNECTION_ID}/records?model=Contact`);
    const rows = page.locator('#records tbody tr');
    expect(await rows.count()).toBe(50);
    const firstPageIds = await page.locator('#records tbody tr td:first-child').allTextContents();
    await page.click('#next-page');
    await page.waitForURL(/cursor=/);
    const secondPageIds = await page.locator('#records tbody tr td:first-child').allTextContents();
    expect(secondPageIds.length).toBeGreaterThan(0);
    expect(secondPageIds.filter((id) => firstPageIds.includes(id))).toEqual([]);
    await screenshot(page, 'records');

    await page.selectOption('select[name=filter]', 'deleted');
    await page.click('button:text-is("Show")');
    await page.waitForURL(/filter=deleted/);
    for (const text of await page.locator('#records tbody .badge').allTextContents()) expect(text).toBe('deleted');

    const id = secondPageIds[0]!;
    await page.goto(`${dashboard}/connections/${DEMO_CONNECTION_ID}/records?model=Contact`);
    await page.fill('input[name=id]', id);
    await page.click('button:text-is("Show")');
    expect(await page.locator('#records tbody tr td:first-child').allTextContents()).toEqual([id]);
    await page.click(`#records a:text-is("${id}")`);
    const json = JSON.parse((await page.textContent('#record-json'))!);
    expect(json.id).toBe(id);
    expect(await page.textContent('dl.facts')).toMatch(/First seen.*UTC.*Last modified/s);
    await screenshot(page, 'record');
  });

  test('deploys: what a version changed, and rolling back to an earlier one', async () => {
    const contacts = await readFile(new URL('../../scripts/demo/syncs/contacts.ts', import.meta.url), 'utf8');
    const models = await readFile(new URL('../../scripts/demo/models.ts', import.meta.url), 'utf8');
    expect(contacts).toContain("frequency: 'every 1 minute'");
    const changed = contacts.replace("frequency: 'every 1 minute'", "frequency: 'every 2 minutes'");
    // From the demo's scripts as first deployed (v1): a no-op on a first attempt, and on CI's
    // retry of one that failed after its deploy, the version to change and roll back to again.
    const base = await ferry.api.post('/deploys/1/rollback');
    expect(base.status, JSON.stringify(base.body)).toBe(200);
    const v2 = await deploySources(ferry, { 'demo/syncs/contacts.ts': changed, 'demo/models.ts': models });
    expect(v2.version).toBe(base.body.version + 1);
    await page.goto(`${dashboard}/deploys/${v2.version}`);
    expect(await page.textContent(`#changes tr:has-text("${SYNC}")`)).toContain('changed');
    expect(await page.textContent(`#changes tr:has-text("${SYNC}") .manifest-changes`)).toContain('frequency: every 1 minute → every 2 minutes');
    expect(await page.locator('#changes tr[data-change=removed]').count()).toBeGreaterThan(0);
    await screenshot(page, 'deploy');

    const listing = await page.goto(`${dashboard}/deploys`);
    // Only the dashboard's own script runs, and no other site may frame it.
    expect(listing!.headers()['content-security-policy']).toMatch(/script-src 'self'.*frame-ancestors 'none'|frame-ancestors 'none'.*script-src 'self'/);
    // Rolling back asks first: declining changes nothing (no form is posted), accepting rolls back.
    const rollbackPosts: string[] = [];
    const notePost = (request: Request) => void (request.method() === 'POST' && request.url().endsWith('/rollback') && rollbackPosts.push(request.url()));
    page.on('request', notePost);
    try {
      page.once('dialog', (d) => void d.dismiss());
      await page.click(`#deploys tr[data-version="${base.body.version}"] button`);
      expect((await ferry.api.get('/deploys')).body.deploys[0].version).toBe(v2.version);
      page.once('dialog', (d) => void d.accept());
      await page.click(`#deploys tr[data-version="${base.body.version}"] button`);
      await expect.poll(() => page.textContent('[role=status]')).toContain(`Rolled back to v${base.body.version}`);
    } finally {
      page.off('request', notePost);
    }
    // Both clicks' requests were issued by now, the declined one first: only the accepted one posted.
    expect(rollbackPosts).toEqual([`${dashboard}/deploys/${base.body.version}/rollback`]);
    expect(await page.textContent(`#deploys tr[data-version="${v2.version + 1}"]`)).toMatch(/active[\s\S]*rollback to v\d+/);
    const { body } = await ferry.api.get('/deploys');
    expect(body.deploys[0]).toMatchObject({ version: v2.version + 1, rollback_of: base.body.version, active: true });
    expect((await ferry.api.get('/scripts')).body.scripts.map((s: any) => s.name)).toContain('create-contact');
    await screenshot(page, 'deploys');
  }, 120_000);

  test("another environment's connections, syncs, runs and records are 404 pages", async () => {
    // A new environment on each attempt: a CI retry cannot create the first attempt's again.
    const { name: otherName, key: otherKey, api: other } = await newEnvironment(ferry, 'other', { adminKey: ADMIN_KEY });
    expect((await other.put('/providers/demo', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
    expect((await other.post('/connections', { connection_id: 'theirs', provider: 'demo' })).status).toBe(201);
    const [theirs] = await ferry.db.sql<{ id: string }[]>`select c.id from connections c join environments e on e.id = c.environment_id where e.name = ${otherName}`;
    const [run] = await ferry.db.sql<{ id: string }[]>`
      insert into runs (connection_id, script_name, kind, script_version, status, trigger) values (${theirs!.id}, 'contacts', 'sync', 1, 'failed', 'manual') returning id::text`;

    for (const path of [`/connections/theirs`, `/connections/theirs/syncs/${SYNC}`, `/runs/${run!.id}`, `/connections/theirs/records?model=Contact`, '/no/such/page']) {
      const response = await page.goto(`${dashboard}${path}`);
      expect(response!.status(), path).toBe(404);
      expect(await page.textContent('h1'), path).toBe('Not found');
    }
    await screenshot(page, 'not-found');
    // The other environment sees its own connection, not ours.
    const otherPage = await browser.newPage();
    await signIn(otherPage, otherKey);
    await otherPage.waitForSelector('h1:has-text("Overview")');
    await otherPage.goto(`${dashboard}/connections`);
    expect(await otherPage.textContent('#connections')).toContain('theirs');
    expect(await otherPage.textContent('#connections')).not.toContain(DEMO_CONNECTION_ID);
    expect((await otherPage.goto(`${dashboard}/connections/${DEMO_CONNECTION_ID}`))!.status()).toBe(404);
    await otherPage.close();
  });

  test('pause, resume and a schedule edit from the sync page; a schedule the API refuses is a 400 page naming why', async () => {
    // A retried attempt starts from a running sync, whatever the failed one left.
    expect((await ferry.api.post(`/syncs/${SYNC}/resume`, { connection_id: DEMO_CONNECTION_ID })).status).toBe(200);
    await page.goto(`${dashboard}/connections/${DEMO_CONNECTION_ID}/syncs/${SYNC}`);
    await page.click('button:text-is("Pause")');
    await expect.poll(() => page.textContent('[role=status]')).toContain('Paused');
    expect(await page.textContent('h1 .badge')).toBe('paused');
    expect((await ferry.api.get(`/syncs/${SYNC}/status?connection_id=${DEMO_CONNECTION_ID}`)).body.paused).toBe(true);
    await page.click('button:text-is("Resume")');
    await expect.poll(() => page.textContent('[role=status]')).toContain('Resumed');
    expect((await ferry.api.get(`/syncs/${SYNC}/status?connection_id=${DEMO_CONNECTION_ID}`)).body.paused).toBe(false);

    await page.fill('#frequency', 'every now and then');
    const [refused] = await Promise.all([page.waitForNavigation(), page.click('button:text-is("Save schedule")')]);
    expect(refused!.status()).toBe(400);
    expect(await page.textContent('[role=alert]')).toMatch(/every now and then|schedule|frequency/i);
    await page.goto(`${dashboard}/connections/${DEMO_CONNECTION_ID}/syncs/${SYNC}`);
    await page.fill('#frequency', 'every 2 hours');
    await page.click('button:text-is("Save schedule")');
    await expect.poll(() => page.textContent('[role=status]')).toContain('every 2 hours');
    expect((await ferry.api.get(`/syncs/${SYNC}/status?connection_id=${DEMO_CONNECTION_ID}`)).body.schedule_override).toBe('every 2 hours');
    await page.fill('#frequency', '');
    await page.click('button:text-is("Save schedule")');
    await expect.poll(() => page.textContent('[role=status]')).toContain('own schedule');
  });

  test('connections: create one with credentials and metadata, edit its metadata, delete it', async () => {
    // A retried attempt creates it anew, whatever the failed one left.
    expect([200, 204, 404]).toContain((await ferry.api.request('DELETE', '/connections/from-the-dashboard')).status);
    await page.goto(`${dashboard}/connections`);
    await page.fill('#new-connection input[name=connection_id]', 'from-the-dashboard');
    await page.selectOption('#new-connection select[name=provider]', 'billing');
    await page.selectOption('#new-connection select[name=credential_type]', 'bearer');
    await page.fill('#new-connection input[name=secret]', 'tok_dashboard_secret');
    await page.fill('#new-connection input[name=metadata]', '{"team":"sales"}');
    await page.click('#new-connection button');
    await page.waitForSelector('h1:has-text("from-the-dashboard")');
    expect(await page.textContent('[role=status]')).toContain('created');
    expect(JSON.parse(await page.inputValue('#metadata'))).toEqual({ team: 'sales' });
    expect((await ferry.api.get('/connections/from-the-dashboard')).body).toMatchObject({ provider: 'billing', metadata: { team: 'sales' } });
    await screenshot(page, 'connection');

    await page.fill('#metadata', '{"team": "support", "tier": 2}');
    await page.click('button:text-is("Save metadata")');
    await expect.poll(() => page.textContent('[role=status]')).toContain('Metadata saved');
    expect((await ferry.api.get('/connections/from-the-dashboard/metadata')).body).toEqual({ team: 'support', tier: 2 });
    await page.fill('#metadata', '{not json');
    const [refused] = await Promise.all([page.waitForNavigation(), page.click('button:text-is("Save metadata")')]);
    expect(refused!.status()).toBe(400);
    expect(await page.textContent('[role=alert]')).toContain('metadata is not valid JSON');

    await page.goto(`${dashboard}/connections/from-the-dashboard`);
    page.once('dialog', (d) => void d.accept());
    await page.click('button:text-is("Delete from-the-dashboard")');
    await expect.poll(() => page.textContent('[role=status]')).toContain('deleted');
    expect(await page.textContent('#connections')).not.toContain('from-the-dashboard');
    expect((await ferry.api.get('/connections/from-the-dashboard')).status).toBe(404);
    await screenshot(page, 'connections');
  });

  test('sync variants: listed beside their sync on the overview and the connection, with their own page, runs and Run now', async () => {
    // A retried attempt adds the variant anew, whatever the failed one left.
    expect([200, 404]).toContain((await ferry.api.request('DELETE', `/syncs/${SYNC}/variants/eu?connection_id=${DEMO_CONNECTION_ID}`)).status);
    const added = await ferry.api.post(`/syncs/${SYNC}/variants`, { connection_id: DEMO_CONNECTION_ID, variant: 'eu' });
    expect(added.status).toBe(201);
    await waitFor('the variant\'s first run', async () => {
      const { body } = await ferry.api.get(`/runs?connection_id=${DEMO_CONNECTION_ID}&sync=${SYNC}&variant=eu&limit=1`);
      return body.runs[0] && body.runs[0].status !== 'running' ? body.runs[0] : undefined;
    }, 60_000);

    await page.goto(dashboard);
    const row = page.locator(`#syncs tr:has-text("${DEMO_CONNECTION_ID}"):has(.variant)`);
    expect(await row.locator('.variant').textContent()).toBe('eu');
    await page.goto(`${dashboard}/connections/${DEMO_CONNECTION_ID}`);
    expect(await page.locator('#connection-syncs .variant').allTextContents()).toEqual(['eu']);
    await page.click('#connection-syncs a:has(.variant)');
    await page.waitForSelector('#sync-variant');
    expect(await page.textContent('#sync-variant')).toBe('eu');
    expect(new URL(page.url()).searchParams.get('variant')).toBe('eu');
    // The last 24 h's runs counted in words: "1 run", else "N runs" (it said "1 runs").
    expect(await page.textContent('dt:text-is("Last 24 h") + dd')).toMatch(/^(1 run|(0|[2-9]|[1-9]\d+) runs)(,|$)/);
    const before = await page.locator('#runs tbody tr[data-run]').first().getAttribute('data-run');

    await page.click('button:text-is("Run now")');
    const newRun = page.locator('#runs tbody tr[data-run]').first();
    await expect.poll(async () => BigInt((await newRun.getAttribute('data-run')) ?? '0') > BigInt(before!), { timeout: 60_000 }).toBe(true);
    const runId = await newRun.getAttribute('data-run');
    const run = await ferry.api.get(`/runs/${runId}`);
    expect(run.body).toMatchObject({ variant: 'eu', trigger: 'manual' });
    // Every run listed on the variant's page is the variant's.
    const listed = await page.locator('#runs tbody tr[data-run]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run')));
    const { body } = await ferry.api.get(`/runs?connection_id=${DEMO_CONNECTION_ID}&sync=${SYNC}&variant=eu&limit=25`);
    expect(listed).toEqual(body.runs.map((r: { id: string }) => r.id));
    await page.goto(`${dashboard}/runs/${runId}`);
    expect(await page.textContent('#run-variant')).toBe('eu');
    await screenshot(page, 'sync-variant-run');

    expect((await ferry.api.request('DELETE', `/syncs/${SYNC}/variants/eu?connection_id=${DEMO_CONNECTION_ID}`)).status).toBe(200);
  });

  test('a long run history pages by run id; a session ends on sign-out or when its key is revoked', async () => {
    // 60 finished runs of the pair (rows as a worker writes them) make three pages of 25.
    const [connection] = await ferry.db.sql<{ id: string }[]>`select id from connections where connection_id = ${DEMO_CONNECTION_ID}`;
    await ferry.db.sql`
      insert into runs (connection_id, script_name, kind, script_version, status, trigger, finished_at, wall_ms, cpu_ms, peak_heap_bytes, bridge_bytes, proxy_calls, memory_limit_mb)
      select ${connection!.id}, ${SYNC}, 'sync', 1, 'succeeded', 'schedule', now(), 100 + i, 10, 3000000 + i, 0, 1, 128 from generate_series(1, 60) i`;
    // The sync's page lists its base variant's runs (a variant has a page of its own).
    const all = (await ferry.api.get(`/runs?connection_id=${DEMO_CONNECTION_ID}&sync=${SYNC}&variant=base&limit=500`)).body.runs.map((r: any) => r.id);
    const seen: string[] = [];
    await page.goto(`${dashboard}/connections/${DEMO_CONNECTION_ID}/syncs/${SYNC}`);
    // The first page's chart: the last page's holds whatever runs are oldest, which on a retried
    // attempt (60 more rows) may be none with usage to draw.
    const bars = await page.locator('svg.chart rect.peak').count();
    for (;;) {
      const ids = await page.locator('#runs tbody tr[data-run]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run')!));
      expect(ids.length).toBeLessThanOrEqual(25);
      seen.push(...ids);
      const older = page.locator('a:text-is("Older →")');
      if ((await older.count()) === 0) break;
      await older.click();
      await page.waitForURL(/before=/);
    }
    expect(seen).toEqual(all);
    expect(bars).toBeGreaterThan(0);

    // A second session on a key that gets revoked ends at its next request.
    const created = await ferry.api.post('/environment/keys', { label: 'temporary' });
    expect(created.status).toBe(201);
    const second = await browser.newPage();
    await signIn(second, created.body.secret);
    await second.waitForSelector('h1:has-text("Overview")');
    expect((await ferry.api.request('DELETE', `/environment/keys/${created.body.id}`)).status).toBe(204);
    await second.goto(`${dashboard}/connections`);
    expect(new URL(second.url()).pathname).toBe('/dashboard/sign-in');
    expect((await second.context().cookies()).filter((c) => c.name === 'ferry_dashboard')).toEqual([]);
    // Signing out forgets the key.
    await signIn(second, TEST_SECRET_KEY);
    await second.waitForSelector('h1:has-text("Overview")');
    await second.click('button:text-is("Sign out")');
    await second.waitForURL(/sign-in/);
    expect((await second.context().cookies()).filter((c) => c.name === 'ferry_dashboard')).toEqual([]);
    await second.goto(dashboard);
    expect(new URL(second.url()).pathname).toBe('/dashboard/sign-in');
    await second.close();
  });

  test('a form post without the session’s CSRF token, or from another origin, changes nothing', async () => {
    // It starts from a running sync (the page has a Pause form), whatever an earlier test or this
    // test's failed attempt left: its own last step pauses the sync.
    expect((await ferry.api.post(`/syncs/${SYNC}/resume`, { connection_id: DEMO_CONNECTION_ID })).status).toBe(200);
    const cookie = (await page.context().cookies()).find((c) => c.name === 'ferry_dashboard')!;
    const post = (headers: Record<string, string>, body: string) => fetch(`${dashboard}/connections/${DEMO_CONNECTION_ID}/syncs/${SYNC}/pause`, {
      method: 'POST', redirect: 'manual', body,
      headers: { cookie: `ferry_dashboard=${cookie.value}`, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });
    expect((await post({ origin: ferry.url }, 'csrf=forged')).status).toBe(403);
    const token = await page.goto(`${dashboard}/connections/${DEMO_CONNECTION_ID}/syncs/${SYNC}`).then(() => page.inputValue('form[action$="/pause"] input[name=csrf]'));
    expect((await post({ origin: 'https://evil.example' }, `csrf=${token}`)).status).toBe(403);
    const status = await ferry.api.get(`/syncs/${SYNC}/status?connection_id=${DEMO_CONNECTION_ID}`);
    expect(status.body.paused).toBe(false);
    // The same token from this origin does act.
    expect((await post({ origin: ferry.url }, `csrf=${encodeURIComponent(token)}`)).status).toBe(303);
    await waitFor('the pause', async () => ((await ferry.api.get(`/syncs/${SYNC}/status?connection_id=${DEMO_CONNECTION_ID}`)).body.paused ? true : undefined));
  });

  test('the main pages fit a 1280 and a 1024 px window and a 390 px phone: nothing scrolls sideways, long record fields wrap, a time breaks only between its date and its clock', async () => {
    const run = (await ferry.api.get(`/runs?connection_id=${DEMO_CONNECTION_ID}&limit=1`)).body.runs[0];
    const records = `/connections/${DEMO_CONNECTION_ID}/records?model=Contact`;
    const sync = `/connections/${DEMO_CONNECTION_ID}/syncs/${SYNC}`;
    const paths = ['', '/connections', `/connections/${DEMO_CONNECTION_ID}`, sync, `/runs/${run.id}`, records, '/deploys'];
    const misfits: Array<{ width: number; path: string; overflowPx: number; scrolledTables: string[]; wrappedTimes: number }> = [];
    for (const width of [1280, 1024, 390]) {
      await page.setViewportSize({ width, height: 900 });
      for (const path of paths) {
        await page.goto(`${dashboard}${path}`);
        // Evaluated in the page (a string: this project's types have no DOM). A date or clock that
        // wraps (the records table once broke each date at its hyphens) is drawn as one box per line.
        // A table wider than the window scrolls inside its own box (.table-scroll), never the page;
        // on a desktop window none needs to.
        const fit = await page.evaluate(`({
          overflowPx: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          scrolledTables: [...document.querySelectorAll('.table-scroll')].filter((box) => box.scrollWidth > box.clientWidth)
            .map((box) => box.querySelector('table')?.id || 'a table'),
          wrappedTimes: [...document.querySelectorAll('td time > span')].filter((t) => t.getClientRects().length > 1).length,
        })`) as { overflowPx: number; scrolledTables: string[]; wrappedTimes: number };
        const phone = width < 600;
        if (fit.overflowPx > 0 || (!phone && (fit.scrolledTables.length > 0 || fit.wrappedTimes > 0))) misfits.push({ width, path, ...fit });
      }
      await page.goto(`${dashboard}${sync}`);
      await screenshot(page, `sync-${width}`);
    }
    expect(misfits).toEqual([]);
    // Every table of the pages is inside a box of its own that scrolls: none can widen the page.
    await page.goto(`${dashboard}${sync}`);
    expect(await page.evaluate(`[...document.querySelectorAll('table')].filter((t) => !t.parentElement.classList.contains('table-scroll')).length`)).toBe(0);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${dashboard}${records}`);
    await screenshot(page, 'records-fit');
  });
});
