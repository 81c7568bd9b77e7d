/**
 * The dashboard's sign-in is rate-limited per client address against guessing keys, through a
 * whole host (Postgres-kept buckets) and a real Chromium: ten refused keys, then 429 with
 * Retry-After — a page for the browser, JSON for a client asking for it — even for the right key
 * (no oracle), while other addresses and keys that work are not held back.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ATTEMPTS_BURST, ATTEMPTS_PER_SECOND } from '../../host/dashboard/sign-in-limit.ts';
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

/**
 * Refused keys from one sender until it is limited. The bucket refills one attempt a minute, and
 * on a loaded machine the guesses themselves can take that long: a fresh address gets exactly its
 * burst plus one per whole minute elapsed, never more. Returns the 429 and the moment before which
 * nothing the sender sends can have been given a refilled attempt (its Retry-After, counted from
 * when that request left: the server computed it later).
 */
async function limitedUntil(send: (key: string) => Promise<Response>, label: string, fresh: boolean) {
  const start = Date.now();
  for (let refused = 0; ; refused++) {
    const sentAt = Date.now();
    const answer = await send(`fsk_${label}_${refused}_0123456789`);
    if (answer.status === 429) {
      if (fresh) expect(refused).toBeGreaterThanOrEqual(ATTEMPTS_BURST);
      const retryAfterS = Number(answer.headers.get('retry-after'));
      expect(retryAfterS).toBeGreaterThan(0);
      return { limited: answer, deadline: sentAt + (retryAfterS - 1) * 1000 };
    }
    expect(answer.status).toBe(401);
    // A bucket never holds more than its burst, however the earlier rounds ended.
    expect(refused + 1).toBeLessThanOrEqual(ATTEMPTS_BURST + Math.floor(((Date.now() - start) / 1000) * ATTEMPTS_PER_SECOND));
  }
}

/** Runs `round` after limiting the sender until one round's answers all came before its deadline (5 tries). */
async function whileLimited(send: (key: string) => Promise<Response>, label: string, round: (limited: Response) => Promise<() => void>) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const { limited, deadline } = await limitedUntil(send, `${label}_${attempt}`, attempt === 0);
    const check = await round(limited);
    if (Date.now() < deadline) return check();
  }
  throw new Error(`${label}: no round fitted inside its Retry-After`);
}

describe('dashboard sign-in limit', () => {
  test('ten refused keys from one address, then 429 for every key from it until it waits; other addresses sign in', async () => {
    const from7 = (key: string) => signIn('198.51.100.7', key);
    await whileLimited(from7, 'guess', async (limited) => {
      const text = await limited.text();
      // The right key is refused too: the limit must not tell a right guess from a wrong one.
      const right = await signIn('198.51.100.7', TEST_SECRET_KEY);
      const json = await signIn('198.51.100.7', TEST_SECRET_KEY, 'application/json');
      const jsonBody = await json.json().catch(() => undefined);
      // Only the last X-Forwarded-For entry counts: what the client put before it changes nothing.
      const again = await signIn('198.51.100.7', TEST_SECRET_KEY);
      return () => {
        expect(text).toContain('Too many sign-in attempts from this address');
        expect(right.status).toBe(429);
        expect(json.status).toBe(429);
        expect(jsonBody).toEqual({ error: { code: 'RATE_LIMITED', message: expect.stringMatching(/^Too many sign-in attempts from this address: try again in \d+ s\.$/) } });
        expect(again.status).toBe(429);
      };
    });

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
      // The browser sends no X-Forwarded-For: its own address is limited. The guesses are sent
      // from this process (the same address, no header), quickly, so the browser's own attempt
      // lands inside the Retry-After; the page's form is what is checked.
      const fromHere = (key: string) => fetch(`${ferry.url}/dashboard/sign-in`, {
        method: 'POST', redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ferry.url },
        body: new URLSearchParams({ key }).toString(),
      });
      await whileLimited(fromHere, 'browser_guess', async () => {
        await page.goto(`${ferry.url}/dashboard/sign-in`);
        await page.fill('#key', TEST_SECRET_KEY);
        const [answer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/dashboard/sign-in') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
        const alert = answer.status() === 429 ? await page.textContent('[role=alert]') : null;
        return () => {
          expect(answer.status()).toBe(429);
          expect(alert).toContain('Too many sign-in attempts from this address: try again in');
        };
      });
    } finally {
      await page.close();
    }
  });
});
