/** What every dashboard page handler gets: the API as the signed-in environment, its CSRF token, and flash notices. */
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { formBody } from '../api/errors.ts';
import type { DashboardApi } from './api-client.ts';
import { href, page, type PageInput } from './layout.ts';
import { DASHBOARD_PATH } from './session.ts';

export type DashboardEnv = { Variables: { api: DashboardApi; csrf: string } };
export type DashboardApp = Hono<DashboardEnv>;
export type DashboardContext = Context<DashboardEnv>;

const FLASH_COOKIE = 'ferry_dashboard_flash';

/** After an action: back to a page, with a one-time notice (kept in a cookie, not the URL, so links cannot fake one). */
export function redirectWithNotice(c: DashboardContext, path: string, text: string, error = false) {
  setCookie(c, FLASH_COOKIE, JSON.stringify({ text: text.slice(0, 500), error }), { path: DASHBOARD_PATH, httpOnly: true, sameSite: 'Strict', maxAge: 60 });
  return c.redirect(href(path), 303);
}

function takeNotice(c: DashboardContext): PageInput['notice'] {
  const raw = getCookie(c, FLASH_COOKIE);
  if (!raw) return null;
  deleteCookie(c, FLASH_COOKIE, { path: DASHBOARD_PATH });
  try {
    const parsed = JSON.parse(raw) as { text?: unknown; error?: unknown };
    return typeof parsed.text === 'string' ? { text: parsed.text, error: parsed.error === true } : null;
  } catch {
    return null;
  }
}

/** A full page for the signed-in environment. */
export function render(c: DashboardContext, input: Omit<PageInput, 'csrf' | 'notice'>, status: 200 | 404 = 200) {
  return c.html(page({ ...input, csrf: c.get('csrf'), notice: takeNotice(c) }), status);
}

/** A form field as text ('' when missing or a file). */
export async function formField(c: DashboardContext, name: string): Promise<string> {
  const body = await formBody(c);
  const value = body[name];
  return typeof value === 'string' ? value : '';
}
