/** Overview: every connection's syncs with their state, failing ones first; the deployed actions. */
import { html } from 'hono/html';
import { isFerryApiError, seg, withQuery, type DashboardApi } from '../api-client.ts';
import type { Connection, Script, SyncStatus } from '../api-types.ts';
import { render, type DashboardApp } from '../context.ts';
import { badge, formatMs, formatTime, href, type Html } from '../layout.ts';
import { pageOf, pager } from './paging.ts';

const SEVERITY: Record<SyncStatus['state'], number> = { failing: 0, stuck: 1, blocked: 1, running: 2, paused: 3, idle: 4 };

const BASE_VARIANT = 'base';

/** Null for a sync (or variant) not enabled for the connection, e.g. removed since it was listed. */
function orNotFound<T>(promise: Promise<T>): Promise<T | null> {
  return promise.catch((err: unknown) => {
    if (isFerryApiError(err) && err.status === 404) return null;
    throw err;
  });
}

/** The syncs deployed for a connection's provider, one status per variant (a sync not enabled for it is left out). */
export async function syncsOf(api: DashboardApi, connection: Connection, scripts: Script[]): Promise<SyncStatus[]> {
  const syncs = scripts.filter((s) => s.kind === 'sync' && s.provider === connection.provider);
  const perSync = await Promise.all(syncs.map(async (s) => {
    const listed = await orNotFound(api.get<{ variants: Array<{ variant: string }> }>(`/syncs/${seg(s.name)}/variants`, { connection_id: connection.connection_id }));
    return Promise.all((listed?.variants ?? []).map(({ variant }) =>
      orNotFound(api.get<SyncStatus>(`/syncs/${seg(s.name)}/status`, { connection_id: connection.connection_id, variant }))));
  }));
  return perSync.flat().filter((s): s is SyncStatus => s !== null);
}

/** A sync's page for a connection; `suffix` one of its actions (/run, /pause, …). Non-base variants by query. */
export function syncPath(connectionId: string, sync: string, variant: string = BASE_VARIANT, suffix = '', query: Record<string, string | undefined> = {}) {
  return withQuery(`/connections/${seg(connectionId)}/syncs/${seg(sync)}${suffix}`, { variant: variant === BASE_VARIANT ? undefined : variant, ...query });
}

/** A sync's name where syncs are listed, with its variant when it is not the base one. */
export function syncLabel(sync: string, variant: string): Html {
  return variant === BASE_VARIANT ? html`${sync}` : html`${sync} <span class="variant muted">${variant}</span>`;
}

export function registerOverviewPage(app: DashboardApp) {
  app.get('/', async (c) => {
    const api = c.get('api');
    const [{ connections }, { scripts }] = await Promise.all([
      api.get<{ connections: Connection[] }>('/connections'),
      api.get<{ scripts: Script[] }>('/scripts'),
    ]);
    const shown = pageOf(connections, c.req.query('page'), 25);
    const rows = (await Promise.all(shown.items.map(async (connection) => (await syncsOf(api, connection, scripts)).map((status) => ({ connection, status }))))).flat();
    rows.sort((a, b) => SEVERITY[a.status.state] - SEVERITY[b.status.state]
      || (b.status.last_run?.started_at ?? '').localeCompare(a.status.last_run?.started_at ?? ''));
    const failing = rows.filter((r) => r.status.state === 'failing' || r.status.state === 'stuck').length;
    const actions = scripts.filter((s) => s.kind === 'action');

    return render(c, {
      title: 'Overview', section: 'overview',
      body: html`<h1>Overview</h1>
<div class="cards">
  <div class="card"><span class="muted">Connections</span><b>${connections.length}</b></div>
  <div class="card"><span class="muted">Syncs deployed</span><b>${scripts.filter((s) => s.kind === 'sync').length}</b></div>
  <div class="card"><span class="muted">Actions deployed</span><b>${actions.length}</b></div>
  <div class="card"><span class="muted">Failing or stuck</span><b class="${failing > 0 ? 'error' : ''}">${failing}</b></div>
</div>
<h2>Syncs by connection</h2>
<div class="table-scroll"><table id="syncs"><thead><tr><th>Connection</th><th>Sync</th><th>State</th><th>Last run</th><th>Next run</th><th class="num">Success (24 h)</th><th class="num">Avg duration</th></tr></thead><tbody>
${rows.length === 0 ? html`<tr><td colspan="7" class="muted">No syncs yet: deploy scripts with <code>ferry deploy</code> and create a connection.</td></tr>` : ''}
${rows.map(({ connection, status }) => html`<tr>
  <td><a href="${href(`/connections/${seg(connection.connection_id)}`)}">${connection.connection_id}</a> <span class="muted">${connection.provider}</span></td>
  <td><a href="${href(syncPath(connection.connection_id, status.sync, status.variant))}">${syncLabel(status.sync, status.variant)}</a></td>
  <td>${badge(status.state)}${status.consecutive_failures > 0 ? html` <span class="error">failing for ${status.consecutive_failures} run${status.consecutive_failures === 1 ? '' : 's'}</span>` : ''}</td>
  <td>${status.last_run ? html`<a href="${href(`/runs/${status.last_run.id}`)}">${badge(status.last_run.status)}</a> ${formatTime(status.last_run.started_at)}` : html`<span class="muted">never</span>`}</td>
  <td>${status.paused || status.connection_paused ? html`<span class="muted">paused</span>` : formatTime(status.next_run_at)}</td>
  <td class="num">${status.success_rate === null ? '–' : `${Math.round(status.success_rate * 100)} % of ${status.runs_in_window}`}</td>
  <td class="num">${formatMs(status.avg_duration_ms)}</td>
</tr>`)}
</tbody></table></div>
${pager(shown, '/')}
<h2>Actions</h2>
<div class="table-scroll"><table id="actions"><thead><tr><th>Action</th><th>Provider</th><th class="num">Version</th></tr></thead><tbody>
${actions.length === 0 ? html`<tr><td colspan="3" class="muted">No actions deployed.</td></tr>` : ''}
${actions.map((a) => html`<tr><td>${a.name}</td><td>${a.provider}</td><td class="num">${a.version}</td></tr>`)}
</tbody></table></div>`,
    });
  });
}
