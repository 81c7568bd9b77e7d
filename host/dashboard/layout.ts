/**
 * The page shell and small formatting helpers. Pages are server-rendered with hono/html tagged
 * templates: every interpolated value is HTML-escaped unless it is itself a rendered fragment.
 */
import { html } from 'hono/html';
import { DASHBOARD_PATH } from './session.ts';

export type Html = ReturnType<typeof html>;

/** A dashboard URL path; the overview is /dashboard itself. */
export const href = (path: string) => (path === '/' ? DASHBOARD_PATH : `${DASHBOARD_PATH}${path}`);

export interface PageInput {
  title: string;
  /** Which navigation entry is current. */
  section?: 'overview' | 'connections' | 'deploys';
  csrf?: string;
  notice?: { text: string; error?: boolean } | null;
  body: Html;
}

export function page(input: PageInput): Html {
  const nav = (section: PageInput['section'], path: string, label: string) =>
    html`<a href="${href(path)}" class="${input.section === section ? 'here' : ''}">${label}</a>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${input.title} · Ferry</title><link rel="stylesheet" href="${href('/assets/dashboard.css')}"></head>
<body>
${input.csrf === undefined ? '' : html`<header><a class="brand" href="${href('/')}">Ferry</a>
${nav('overview', '/', 'Overview')}${nav('connections', '/connections', 'Connections')}${nav('deploys', '/deploys', 'Deploys')}
<form method="post" action="${href('/sign-out')}">${csrfField(input.csrf)}<button type="submit">Sign out</button></form></header>`}
<main>
${input.notice ? html`<div class="notice ${input.notice.error ? 'error' : ''}" role="status">${input.notice.text}</div>` : ''}
${input.body}
</main>
<script src="${href('/assets/dashboard.js')}" defer></script>
</body></html>`;
}

export const csrfField = (token: string) => html`<input type="hidden" name="csrf" value="${token}">`;

/** A form that POSTs one action with the CSRF token; `fields` are extra hidden inputs. */
export function actionForm(csrf: string, action: string, label: string, options: { fields?: Record<string, string>; className?: string; confirm?: string } = {}): Html {
  const hidden = Object.entries(options.fields ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
  return html`<form method="post" action="${href(action)}"${options.confirm ? html` data-confirm="${options.confirm}"` : ''}>${csrfField(csrf)}${hidden}<button type="submit" class="${options.className ?? ''}">${label}</button></form>`;
}

export const badge = (text: string) => html`<span class="badge ${text}">${text}</span>`;

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '–';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/**
 * ISO timestamps as UTC, to the second, inside <time> so a browser can show them locally. The
 * date and the clock are each kept on one line (the CSS's `time > span`): a narrow column breaks
 * between them, never at a date's hyphens.
 */
export function formatTime(iso: string | null | undefined): Html | string {
  if (!iso) return '–';
  const [date, clock] = new Date(iso).toISOString().slice(0, 19).split('T');
  return html`<time datetime="${iso}"><span>${date}</span> <span>${clock} UTC</span></time>`;
}

export function notFoundPage(what: string, csrf?: string): Html {
  return page({
    title: 'Not found', ...(csrf !== undefined && { csrf }),
    body: html`<h1>Not found</h1><p>${what}</p><p><a href="${href('/')}">Back to the overview</a></p>`,
  });
}

/** `back`: the dashboard page the request came from, to return to. */
export function errorPage(message: string, csrf?: string, back?: string | null): Html {
  return page({
    title: 'Error', ...(csrf !== undefined && { csrf }),
    body: html`<h1>That did not work</h1><p class="error" role="alert">${message}</p><p><a href="${back ?? href('/')}">${back ? 'Go back' : 'Back to the overview'}</a></p>`,
  });
}
