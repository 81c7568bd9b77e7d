/**
 * A real browser for page tests: Debian's Chromium driven by playwright-core (no downloaded
 * browser builds; `.ci/run` installs the `chromium` package where it is missing). Screenshots go
 * to test-artifacts/ (gitignored) so a failing page can be looked at after the run.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.FERRY_CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS_DIR = join(import.meta.dirname, '..', '..', 'test-artifacts');

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** Signs `page` in to the dashboard of the host at `baseUrl` with `key`, and waits for the overview it lands on. */
export async function signInToDashboard(page: Page, baseUrl: string, key: string): Promise<void> {
  await page.goto(`${baseUrl}/dashboard/sign-in`);
  await page.fill('#key', key);
  await page.click('button[type=submit]');
  await page.waitForSelector('h1:has-text("Overview")');
}

/** A new page of `browser` at `viewport`, signed in to the dashboard (signInToDashboard). */
export async function signedInPage(browser: Browser, baseUrl: string, key: string, viewport: { width: number; height: number }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  await signInToDashboard(page, baseUrl, key);
  return page;
}

/** Saves a full-page screenshot as test-artifacts/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name.replace(/[^a-z0-9._-]+/gi, '-')}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
