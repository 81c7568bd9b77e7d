/**
 * A split pass on the dashboard, in a real Chromium against a whole host and a real provider
 * server: the sync's page shows how the parts stand and each part's window, state, records,
 * retry attempt and latest run (the same data as GET /syncs/:name/status's split_pass), the run
 * link opens that part's run, and the section goes once the pass has succeeded.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchBrowser, screenshot, signedInPage } from '../helpers/browser.ts';
import { deploySources, idForThisAttempt, startTestFerry, TEST_SECRET_KEY, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { DAY, SPLIT_SYNC, START, startEvents, type EventsProvider } from '../sync/split-provider.ts';

/** The connection of the first test's latest attempt (a retry makes its own); the others follow it. */
let conn = 'split-dash';
const FAILING_PART = new Date(START + 180 * DAY).toISOString();

let ferry: TestFerry;
let provider: EventsProvider;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  provider = await startEvents(30, 20);
  // The second half-year answers 400: its part uses its one retry and gives up.
  provider.failFrom = FAILING_PART;
  ferry = await startTestFerry({ FERRY_RUNTIME_WORKERS: '2', FERRY_SYNC_RETRY_BASE_MS: '100' });
  await deploySources(ferry, { 'eventsp/syncs/events.ts': SPLIT_SYNC });
  expect((await ferry.api.put('/providers/eventsp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  browser = await launchBrowser();
  page = await signedInPage(browser, ferry.url, TEST_SECRET_KEY, { width: 1280, height: 1000 });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await ferry?.close();
  await provider?.close();
});

const status = async () => (await ferry.api.get(`/syncs/events/status?connection_id=${conn}`)).body;
const syncPage = () => `/dashboard/connections/${conn}/syncs/events`;
/** Events the provider holds in [from, to). */
const eventsIn = (from: string, to: string | null) => [...provider.events.values()].filter((at) => at >= Date.parse(from) && (to === null || at < Date.parse(to))).length;

describe('a split pass on the sync page', () => {
  test('shows every part with its window, state, records, retry attempt and run, as the status API does', async () => {
    conn = idForThisAttempt('split-dash');
    expect((await ferry.api.post('/connections', { connection_id: conn, provider: 'eventsp' })).status).toBe(201);
    const settled = await waitFor('every part settled, one given up', async () => {
      const s = await status();
      return s.split_pass && s.split_pass.given_up === 1 && s.split_pass.succeeded === s.split_pass.parts - 1 ? s : undefined;
    }, 90_000);
    const pass = settled.split_pass;
    expect(pass.items).toHaveLength(pass.parts);
    // Not idle although the latest run may be a part that succeeded: the pass cannot complete.
    expect(settled.state).toBe('failing');

    await page.goto(`${ferry.url}${syncPage()}`);
    await page.waitForSelector('#split-parts');
    expect(await page.textContent('#split-summary')).toContain(`${pass.parts - 1} of ${pass.parts} parts succeeded, 0 running, 1 failed (1 given up until the next run)`);
    const rows = await page.$$eval('#split-parts tbody tr', (trs) => trs.map((tr) => ({
      part: tr.getAttribute('data-part'), state: tr.getAttribute('data-state'),
      cells: [...tr.querySelectorAll('td')].map((td) => td.textContent!.trim()),
      run: tr.querySelector('a')?.getAttribute('href') ?? null,
    })));
    expect(rows.map((r) => r.part)).toEqual(pass.items.map((p: { part: string }) => p.part));
    for (const [i, row] of rows.entries()) {
      const item = pass.items[i];
      expect(row.state).toBe(item.state);
      expect(row.cells[2]).toBe(item.state);
      expect(Number(row.cells[3])).toBe(item.records);
      expect(Number(row.cells[4])).toBe(item.retry_attempt);
      expect(row.run).toBe(`/dashboard/runs/${item.run_id}`);
      // Records as the provider holds them in the part's window: the page shows what was read.
      expect(item.records).toBe(item.part === FAILING_PART ? 0 : eventsIn(item.window_from, item.window_to));
    }
    const failing = rows.find((r) => r.part === FAILING_PART)!;
    expect(failing).toMatchObject({ state: 'given_up' });
    expect(failing.cells[4]).toBe('1');
    expect(rows.filter((r) => r.state === 'succeeded')).toHaveLength(pass.parts - 1);
    expect(rows.at(-1)!.cells[1]).toContain('→ now');
    expect(await page.textContent('h1 .badge')).toBe('failing');
    await screenshot(page, 'split-pass');

    // The failing part's run link opens its run, which names the part and links back.
    await page.click(`#split-parts tr[data-part="${FAILING_PART}"] a`);
    await page.waitForSelector('#run-part');
    expect(await page.textContent('#run-part')).toContain(`${FAILING_PART} of the split pass`);
    expect(await page.textContent('#run-error')).toContain('400');
  });

  test('the next run resumes the given-up part; once the pass succeeds the section is gone', async () => {
    provider.failFrom = null;
    expect((await ferry.api.post('/syncs/events/trigger', { connection_id: conn })).status).toBe(202);
    await waitFor('the pass to succeed', async () => {
      const s = await status();
      return s.split_pass === null && s.last_sync_date !== null ? s : undefined;
    }, 60_000);
    await page.goto(`${ferry.url}${syncPage()}`);
    await page.waitForSelector('#runs');
    expect(await page.$('#split-parts')).toBeNull();
    expect(await page.textContent('h1 .badge')).toBe('idle');
    expect((await status()).state).toBe('idle');
  });

  test('a sync whose provider is gone shows why it does not run, on its page and the overview', async () => {
    expect((await ferry.api.request('DELETE', '/providers/eventsp')).status).toBe(204);
    await page.goto(`${ferry.url}${syncPage()}`);
    await page.waitForSelector('#sync-blocked');
    expect(await page.textContent('#sync-blocked')).toContain('provider eventsp is not configured');
    expect(await page.textContent('h1 .badge')).toBe('blocked');
    await page.goto(`${ferry.url}/dashboard`);
    await page.waitForSelector('#syncs');
    const row = page.locator('#syncs tr', { hasText: conn });
    expect(await row.locator('.badge').first().textContent()).toBe('blocked');
  });
});
