/**
 * The hosted connect page in Chromium for an API-key provider, opened as a popup by the app's
 * page: the provider's fields (and their zod rules) on a server-rendered form, a refused key
 * shown on the page with nothing saved, then success posted to the opener and the popup closed.
 * The dashboard then lists the connection under its end user.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchBrowser, screenshot, signInToDashboard } from '../helpers/browser.ts';
import { startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';
import { startTestProvider, type TestProvider } from '../proxy/provider-server.ts';
import { createConnectSession } from './connect-session.ts';

let ferry: TestFerry;
let provider: TestProvider;
let browser: Browser;

beforeAll(async () => {
  provider = await startTestProvider();
  ferry = await startTestFerry();
  browser = await launchBrowser();
  expect((await ferry.api.put('/providers/keyed', {
    display_name: 'Keyed CRM', base_url: provider.url, auth: { type: 'api_key', in: 'header', name: 'x-api-key' },
    connect: {
      verification: { endpoint: '/v1/me' }, credential_labels: { apiKey: 'Workspace API key' },
      connection_config: [{ name: 'workspace', label: 'Workspace', pattern: '[a-z]+', example: 'acme' }],
    },
  })).status).toBe(200);
  expect((await ferry.api.put('/providers/other', { display_name: 'Other', base_url: provider.url, auth: { type: 'bearer' } })).status).toBe(200);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await ferry?.close();
  await provider?.close();
});

describe('the hosted connect page', () => {
  test('a popup asks for the declared fields, refuses a bad key on the page, and reports success to its opener', async () => {
    const session = await createConnectSession(ferry.api, { end_user: { id: 'erin-5' }, organization: { id: 'org-9' }, allowed_providers: ['keyed'] });
    const app: Page = await browser.newPage();
    await app.goto('about:blank');
    // The app's page (browser code as text: the test's TypeScript has no DOM types).
    await app.evaluate('window.messages = []; addEventListener("message", (e) => window.messages.push(e.data))');
    const [popup] = await Promise.all([app.waitForEvent('popup'), app.evaluate(`void window.open(${JSON.stringify(session.connect_url)}, 'connect', 'width=500,height=700')`)]);
    await popup.waitForSelector('h1');
    // Only the session's providers are offered.
    expect(await popup.locator('a.provider').allTextContents()).toEqual(['Keyed CRM']);
    await popup.click('a[data-provider="keyed"]');
    await popup.waitForSelector('form');
    expect(await popup.locator('label').allTextContents()).toEqual(['Workspace API key', 'Workspace']);
    expect(await popup.getAttribute('#f-apiKey', 'type')).toBe('password');

    await popup.fill('#f-apiKey', 'wrong-key');
    await popup.fill('#f-workspace', 'Not Valid');
    await popup.click('button[type="submit"]');
    await popup.waitForSelector('[role="alert"]');
    expect(await popup.textContent('[role="alert"]')).toContain('Workspace does not look right (e.g. acme)');
    expect(await popup.inputValue('#f-workspace')).toBe('Not Valid'); // kept; the secret is not echoed
    expect(await popup.inputValue('#f-apiKey')).toBe('');

    await popup.fill('#f-apiKey', 'wrong-key');
    await popup.fill('#f-workspace', 'acme');
    await popup.click('button[type="submit"]');
    await popup.waitForSelector('[role="alert"]');
    expect(await popup.textContent('[role="alert"]')).toContain('Keyed CRM refused these credentials');
    await screenshot(popup, 'connect-api-key-refused');
    expect((await ferry.api.get('/connections?end_user_id=erin-5')).body.connections).toEqual([]);

    await popup.fill('#f-apiKey', provider.apiKey);
    const closed = popup.waitForEvent('close');
    await popup.click('button[type="submit"]');
    await closed;
    const messages = await app.evaluate('window.messages') as unknown[];
    expect(messages).toEqual([{ type: 'ferry:connect', status: 'success', provider: 'keyed', connection_id: expect.stringMatching(/^conn_/) }]);
    const [made] = (await ferry.api.get('/connections?end_user_id=erin-5')).body.connections;
    expect(made).toMatchObject({ connection_id: (messages[0] as { connection_id: string }).connection_id, connection_config: { workspace: 'acme' }, end_user: { id: 'erin-5', org_id: 'org-9' } });
    await app.close();
  });

  test("the page's browser logs no errors: nothing it asks the host for is refused (the favicon was a 401)", async () => {
    const session = await createConnectSession(ferry.api, { end_user: { id: 'erin-6' }, allowed_providers: ['keyed'] });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
    await page.goto(session.connect_url);
    await page.click('a[data-provider="keyed"]');
    await page.waitForSelector('form');
    await page.waitForLoadState('networkidle');
    // What the browser asks for on its own, for any page of the host: no key, so not the API's 401.
    const icon = await fetch(`${ferry.url}/favicon.ico`);
    expect({ status: icon.status, body: await icon.text() }).toEqual({ status: 204, body: '' });
    expect(errors).toEqual([]);
    await page.close();
  });

  test('the dashboard lists connections by end user', async () => {
    expect((await ferry.api.post('/connections', { connection_id: 'made-by-the-app', provider: 'other', credentials: { type: 'bearer', token: 't' } })).status).toBe(201);
    const page = await browser.newPage();
    try {
      await signInToDashboard(page, ferry.url, TEST_SECRET_KEY);
      await page.goto(`${ferry.url}/dashboard/connections`);
      const rows = page.locator('#connections tbody tr');
      expect(await rows.count()).toBe(2);
      expect(await page.locator('#connections tr:has-text("made-by-the-app")').textContent()).toContain('—');
      await page.click('#connections a:text-is("erin-5")');
      await page.waitForSelector('h1:has-text("of end user erin-5")');
      expect(await rows.count()).toBe(1);
      expect(await rows.first().textContent()).toContain('(org-9)');
      await screenshot(page, 'dashboard-connections-by-end-user');
    } finally {
      await page.close();
    }
  });
});
