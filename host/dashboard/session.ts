/**
 * Dashboard sessions: the environment's secret key in an http-only, same-site cookie scoped to
 * /dashboard, checked by the API on every request (a revoked key signs the session out at once).
 * Every form carries a CSRF token derived from the key, so a page of another site can neither
 * read it nor forge it; the Origin check (hono/csrf) is a second fence.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';

export const SESSION_COOKIE = 'ferry_dashboard';
export const DASHBOARD_PATH = '/dashboard';

export function sessionKey(c: Context): string | null {
  const key = getCookie(c, SESSION_COOKIE);
  return key && key.length <= 512 ? key : null;
}

function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

export function startSession(c: Context, key: string): void {
  setCookie(c, SESSION_COOKIE, key, { path: DASHBOARD_PATH, httpOnly: true, sameSite: 'Strict', secure: isHttps(c), maxAge: 12 * 3600 });
}

export function endSession(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: DASHBOARD_PATH, secure: isHttps(c) });
}

export function csrfToken(key: string): string {
  return createHmac('sha256', key).update('ferry-dashboard-csrf').digest('base64url');
}

export function validCsrf(key: string, token: unknown): boolean {
  if (typeof token !== 'string') return false;
  const expected = Buffer.from(csrfToken(key));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
