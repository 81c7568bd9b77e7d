/**
 * The run page in a real Chromium while the run is still going: log lines and the final status
 * arrive without a reload; then a run's rejected records with their reasons, and a failed run's
 * error with the script's source location.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { launchBrowser, screenshot, signedInPage } from '../helpers/browser.ts';
import { deploySources, startTestFerry, TEST_SECRET_KEY, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { startItemsProvider, type ItemsProvider } from '../sync/items-provider.ts';

const SLOW = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string(), name: z.string() });
export default createSync({
  description: 'slow items, one refused',
  frequency: 'every 1 hour',
  models: { Item },
  exec: async (nango) => {
    await nango.log('asking the provider for items');
    const res = await nango.get<{ items: Array<{ id: string; name: string }> }>({ endpoint: '/items', retries: 0 });
    await nango.log('got ' + res.data.items.length + ' items');
    await nango.batchSave([...res.data.items, { id: 'bad', name: 42 } as never], 'Item');
  },
});`;

const BROKEN = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string() });
function parsePage(body: unknown): never {
  throw new Error('cannot parse page: ' + JSON.stringify(body).slice(0, 20));
}
export default createSync({
  description: 'always fails',
  frequency: 'every 1 hour',
  models: { Item },
  exec: async (nango) => {
    const res = await nango.get({ endpoint: '/mode', retries: 0 });
    parsePage(res.data);
  },
});`;

let ferry: TestFerry;
let provider: ItemsProvider;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  provider = await startItemsProvider(3);
  provider.delayMs = 4_000;
  ferry = await startTestFerry();
  await deploySources(ferry, { 'itemsp/syncs/slow.ts': SLOW, 'itemsp/syncs/broken.ts': BROKEN });
  expect((await ferry.api.put('/providers/itemsp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  browser = await launchBrowser();
  page = await signedInPage(browser, ferry.url, TEST_SECRET_KEY, { width: 1280, height: 900 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await ferry?.close();
  await provider?.close();
});

test('a running run shows its logs and then its outcome without a reload', async () => {
  // A new connection's syncs are due at once.
  expect((await ferry.api.post('/connections', { connection_id: 'live', provider: 'itemsp' })).status).toBe(201);
  const running = await waitFor('the slow run to start', async () => {
    const run = (await ferry.api.get('/runs?connection_id=live&sync=slow&limit=1')).body.runs[0];
    return run?.status === 'running' ? run : undefined;
  });
  await page.goto(`${ferry.url}/dashboard/runs/${running.id}`);
  expect(await page.textContent('#run-details .badge')).toBe('running');
  const navigations: string[] = [];
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
  await expect.poll(() => page.textContent('#logs'), { timeout: 20_000 }).toContain('asking the provider for items');
  await expect.poll(() => page.textContent('#run-details .badge'), { timeout: 30_000 }).toBe('succeeded');
  expect(await page.textContent('#logs')).toContain('got 3 items');
  expect(navigations).toEqual([]);
  // The provider answered after 4 s: the call's duration says so.
  expect(await page.textContent('#calls tbody tr')).toMatch(/GET\s*\/items\s*200\s*[4-9]\.\d s\s*0/);
  expect(await page.textContent('#rejected')).toMatch(/Item[\s\S]*bad/);
  await screenshot(page, 'run-live');
}, 90_000);

test("a failed run shows its error and where in the script it was thrown", async () => {
  const run = await waitForRun(ferry.api, 'live', 'broken', '0', 60_000);
  expect(run.status).toBe('failed');
  await page.goto(`${ferry.url}/dashboard/runs/${run.id}`);
  expect(await page.textContent('#run-error')).toContain('cannot parse page');
  // Where the script threw, mapped through the bundle's source map to the author's .ts file.
  expect(await page.textContent('.source-location')).toBe('scripts/itemsp/syncs/broken.ts:6:9');
  const stack = (await page.textContent('pre'))!;
  expect(stack).toContain('at parsePage (scripts/itemsp/syncs/broken.ts:6:9)');
  expect(stack).not.toContain('file:///script.js');
  await screenshot(page, 'run-failed');
  // The overview puts the failing sync first.
  await page.goto(`${ferry.url}/dashboard`);
  expect(await page.textContent('#syncs tbody tr:first-child')).toMatch(/broken[\s\S]*failing[\s\S]*failing for 1 run/);
}, 90_000);
