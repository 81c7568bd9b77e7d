/**
 * The dashboard's sign-in is rate-limited per client address against guessing keys, through a
 * whole host (Postgres-kept buckets) and a real Chromium: ten refused keys, then 429 with
 * Retry-After — a page for the browser, JSON for a client asking for it — even for the right key
 * (no oracle), while other addresses and keys that work are not held back.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchBrowser } from '../helpers/browser.ts';
import { startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';

let ferry: TestFerry;
let browser: Browser;

beforeAll(async () => {
  // As behind a reverse proxy: the address it appends to X-Forwarded-For is the client's.
  ferry = await startTestFerry({ FERRY_TRUST_PROXY: '1' });
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await ferry?.close();
});

/** A sign-in form post from `address`, as the browser sends it (same origin). */
function signIn(address: string, key: string, accept = 'text/html') {
  return fetch(`${ferry.url}/dashboard/sign-in`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ferry.url, 'x-forwarded-for': `203.0.113.50, ${address}`, accept },
    body: new URLSearchParams({ key }).toString(),
  });
}

describe('dashboard sign-in limit', () => {
  test('ten refused keys from one address, then 429 for every key from it until it waits; other addresses sign in', async () => {
    for (let i = 0; i < 10; i++) expect((await signIn('198.51.100.7', `fsk_guess_${i}_0123456789`)).status).toBe(401);
    const limited = await signIn('198.51.100.7', 'fsk_guess_10_0123456789');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.text()).toContain('Too many sign-in attempts from this address');
    // The right key is refused too: the limit must not tell a right guess from a wrong one.
    expect((await signIn('198.51.100.7', TEST_SECRET_KEY)).status).toBe(429);
    const json = await signIn('198.51.100.7', TEST_SECRET_KEY, 'application/json');
    expect(json.status).toBe(429);
    expect(await json.json()).toEqual({ error: { code: 'RATE_LIMITED', message: expect.stringMatching(/^Too many sign-in attempts from this address: try again in \d+ s\.$/) } });
    // Only the last X-Forwarded-For entry counts: what the client put before it changes nothing.
    expect((await signIn('198.51.100.7', TEST_SECRET_KEY)).status).toBe(429);

    const elsewhere = await signIn('198.51.100.8', TEST_SECRET_KEY);
    expect(elsewhere.status).toBe(303);
    expect(elsewhere.headers.get('set-cookie')).toContain('ferry_dashboard=');
  });

  test('keys that work do not use up the limit', async () => {
    for (let i = 0; i < 15; i++) expect((await signIn('198.51.100.9', TEST_SECRET_KEY)).status).toBe(303);
    expect((await signIn('198.51.100.9', 'fsk_wrong_0123456789')).status).toBe(401);
  });

  test('in the browser: the sign-in page says to wait', async () => {
    const page = await browser.newPage();
    try {
      // The browser sends no X-Forwarded-For: its own address is limited.
      for (let i = 0; i < 10; i++) {
        await page.goto(`${ferry.url}/dashboard/sign-in`);
        await page.fill('#key', `fsk_browser_guess_${i}_0123456789`);
        await Promise.all([page.waitForResponse((r) => r.url().endsWith('/dashboard/sign-in') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
      }
      await page.goto(`${ferry.url}/dashboard/sign-in`);
      await page.fill('#key', TEST_SECRET_KEY);
      const [answer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/dashboard/sign-in') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
      expect(answer.status()).toBe(429);
      await expect.poll(() => page.textContent('[role=alert]')).toContain('Too many sign-in attempts from this address: try again in');
    } finally {
      await page.close();
    }
  });
});
