/**
 * A sync of a connection: where it stands, the parts of a split pass going on, its run history (trigger, fetch window, counts,
 * usage) with a chart of peak memory and duration against the memory limit, and its actions:
 * Run now, Full run, Pause/Resume, edit schedule. The run list refreshes itself while a run is
 * queued or running.
 */
import { html } from 'hono/html';
import { seg } from '../api-client.ts';
import type { Run, SplitPass, SyncStatus } from '../api-types.ts';
import { runChart } from '../chart.ts';
import { formField, redirectWithNotice, render, type DashboardApp, type DashboardContext } from '../context.ts';
import { actionForm, badge, formatBytes, formatMs, formatTime, href, type Html } from '../layout.ts';
import { syncLabel, syncPath } from './overview.ts';

const PAGE_SIZE = 25;
const RUN_ID = /^\d{1,19}$/;

function fetchWindow(run: Run): Html | string {
  if (!run.fetch_window) return html`<span class="muted">–</span>`;
  const { last_sync_date, checkpoint } = run.fetch_window;
  const since = last_sync_date ? html`since ${formatTime(last_sync_date)}` : html`everything${run.full ? ' (full)' : ''}`;
  return html`${since}${checkpoint ? html`<br><span class="muted">from checkpoint <code>${JSON.stringify(checkpoint)}</code></span>` : ''}`;
}

export function runsTable(runs: Run[]): Html {
  return html`<div class="table-scroll"><table id="runs"><thead><tr><th>Run</th><th>Status</th><th>Trigger</th><th>Started</th><th>Fetch window</th>
<th class="num">Added</th><th class="num">Updated</th><th class="num">Deleted</th><th class="num">Unchanged</th><th class="num">Rejected</th>
<th class="num">Wall</th><th class="num">CPU</th><th class="num">Peak memory</th></tr></thead><tbody>
${runs.length === 0 ? html`<tr><td colspan="13" class="muted">No runs yet.</td></tr>` : ''}
${runs.map((r) => html`<tr data-run="${r.id}" data-status="${r.status}">
<td><a href="${href(`/runs/${r.id}`)}">#${r.id}</a></td><td>${badge(r.status)}</td><td>${r.trigger}${r.full && r.trigger !== 'full' ? ' (full)' : ''}${r.part ? html`<br><span class="muted part">part ${r.part}</span>` : ''}</td>
<td>${formatTime(r.started_at)}</td><td>${fetchWindow(r)}</td>
<td class="num">${r.counts.added}</td><td class="num">${r.counts.updated}</td><td class="num">${r.counts.deleted}</td><td class="num">${r.counts.unchanged}</td><td class="num">${r.counts.rejected}</td>
<td class="num">${formatMs(r.usage?.wall_ms)}</td><td class="num">${formatMs(r.usage?.cpu_ms)}</td>
<td class="num peak-memory">${r.usage ? html`${formatBytes(r.usage.peak_heap_bytes)}${r.memory_limit_mb ? html` <span class="muted">/ ${r.memory_limit_mb} MiB</span>` : ''}` : '–'}</td>
</tr>`)}
</tbody></table></div>`;
}

/** A split pass going on: how its parts stand, and each part with its window, records, retries and latest run. */
function splitPassSection(pass: SplitPass | null): Html | string {
  if (!pass) return '';
  const window = (from: string | null, to: string | null) => (from === null && to === null ? html`<span class="muted">–</span>` : html`${formatTime(from)} → ${to === null ? 'now' : formatTime(to)}`);
  return html`<h2 id="split-pass">Split pass</h2>
<p id="split-summary">${pass.succeeded} of ${pass.parts} parts succeeded, ${pass.running} running, ${pass.failed} failed${pass.given_up > 0 ? html` (<span class="error">${pass.given_up} given up</span> until the next run)` : ''}${pass.held > 0 ? html`, ${pass.held} held` : ''}</p>
<div class="table-scroll"><table id="split-parts"><thead><tr><th>Part</th><th>Window</th><th>State</th><th class="num">Records</th><th class="num">Retry</th><th>Next attempt</th><th>Run</th></tr></thead><tbody>
${pass.items.map((p) => html`<tr data-part="${p.part}" data-state="${p.state}">
<td><code>${p.part}</code></td><td>${window(p.window_from, p.window_to)}</td><td>${badge(p.state)}</td><td class="num">${p.records}</td>
<td class="num">${p.retry_attempt}</td><td>${p.next_run_at ? formatTime(p.next_run_at) : '–'}</td>
<td>${p.run_id ? html`<a href="${href(`/runs/${p.run_id}`)}">#${p.run_id}</a>` : html`<span class="muted">none yet</span>`}</td></tr>`)}
</tbody></table></div>`;
}

/** Still worth watching: a run is running, or the run asked for after run `after` has not finished yet. */
function isLive(runs: Run[], after: string | undefined): boolean {
  if (runs.some((r) => r.status === 'running')) return true;
  return after !== undefined && !runs.some((r) => BigInt(r.id) > BigInt(after));
}

/** The (connection, sync, variant) a page or action is about; the variant comes as ?variant= (absent: base). */
function target(c: DashboardContext) {
  return { connectionId: c.req.param('connection')!, name: c.req.param('name')!, variant: c.req.query('variant') || 'base' };
}

async function load(c: DashboardContext) {
  const { connectionId, name, variant } = target(c);
  const before = c.req.query('before');
  const api = c.get('api');
  const query = { connection_id: connectionId, sync: name, variant, limit: String(PAGE_SIZE), before: before && RUN_ID.test(before) ? before : undefined };
  const [status, page] = await Promise.all([
    api.get<SyncStatus>(`/syncs/${seg(name)}/status`, { connection_id: connectionId, variant }),
    api.get<{ runs: Run[]; next_before: string | null }>('/runs', query),
  ]);
  return { connectionId, name, variant, status, page, paged: query.before !== undefined };
}

export function registerSyncPages(app: DashboardApp) {
  const base = '/connections/:connection/syncs/:name';

  app.get(base, async (c) => {
    const { connectionId, name, variant, status, page, paged } = await load(c);
    const path = syncPath(connectionId, name, variant);
    const action = (suffix: string) => syncPath(connectionId, name, variant, suffix);
    const after = c.req.query('after');
    const watchAfter = after && RUN_ID.test(after) ? after : undefined;
    const csrf = c.get('csrf');
    const paused = status.paused || status.connection_paused;
    const live = !paged && isLive(page.runs, watchAfter);
    return render(c, {
      title: `${name}${variant === 'base' ? '' : ` (${variant})`} · ${connectionId}`, section: 'overview',
      body: html`<p class="muted"><a href="${href(`/connections/${seg(connectionId)}`)}">${connectionId}</a> › sync</p>
<h1>${syncLabel(name, variant)} ${badge(status.state)}</h1>
<div class="actions">
  ${actionForm(csrf, action('/run'), 'Run now', { className: 'primary' })}
  ${actionForm(csrf, action('/run'), 'Full run', { fields: { full: '1' }, confirm: 'Fetch everything again, ignoring lastSyncDate and the checkpoint?' })}
  ${status.paused ? actionForm(csrf, action('/resume'), 'Resume') : actionForm(csrf, action('/pause'), 'Pause')}
  <form method="post" action="${href(action('/schedule'))}"><input type="hidden" name="csrf" value="${csrf}">
    <label for="frequency" class="muted">Schedule</label>
    <input id="frequency" name="frequency" size="28" value="${status.schedule_override ?? ''}" placeholder="${status.schedule ?? 'every hour'}">
    <button type="submit">Save schedule</button></form>
</div>
<dl class="facts">
  <dt>Variant</dt><dd id="sync-variant">${variant}</dd>
  <dt>Version</dt><dd>${status.version}</dd>
  <dt>Schedule</dt><dd>${status.schedule_override ? html`${status.schedule_override} <span class="muted">(override of ${status.schedule ?? 'the sync’s own'})</span>` : status.schedule ?? '–'}</dd>
  <dt>Next run</dt><dd>${paused ? html`<span class="muted">paused${status.connection_paused ? ' (whole connection)' : ''}</span>` : formatTime(status.next_run_at)}</dd>
  ${status.blocked ? html`<dt>Not running</dt><dd id="sync-blocked" class="error">${status.blocked.message}</dd>` : ''}
  <dt>lastSyncDate</dt><dd>${formatTime(status.last_sync_date)}</dd>
  <dt>Checkpoint</dt><dd>${status.checkpoint ? html`<code>${JSON.stringify(status.checkpoint)}</code>` : '–'}</dd>
  <dt>Last 24 h</dt><dd>${status.runs_in_window} run${status.runs_in_window === 1 ? '' : 's'}${status.success_rate === null ? '' : `, ${Math.round(status.success_rate * 100)} % succeeded`}, average ${formatMs(status.avg_duration_ms)}</dd>
  ${status.consecutive_failures > 0 ? html`<dt>Failing</dt><dd class="error">for ${status.consecutive_failures} run${status.consecutive_failures === 1 ? '' : 's'} in a row</dd>` : ''}
</dl>
${splitPassSection(status.split_pass)}
<h2>Peak memory and duration</h2>
${runChart(page.runs)}
<h2>Runs</h2>
<div id="run-history"${live ? html` data-live="${href(syncPath(connectionId, name, variant, '/runs-live', { after: watchAfter }))}"` : ''}>${runsTable(page.runs)}</div>
<nav class="pager">${paged ? html`<a href="${href(path)}">← Newest</a>` : ''}${page.next_before ? html`<a href="${href(syncPath(connectionId, name, variant, '', { before: page.next_before }))}">Older →</a>` : ''}</nav>`,
    });
  });

  app.get(`${base}/runs-live`, async (c) => {
    const { page } = await load(c);
    const after = c.req.query('after');
    const done = !isLive(page.runs, after && RUN_ID.test(after) ? after : undefined);
    return c.html(runsTable(page.runs), 200, done ? { 'x-ferry-live': 'done' } : {});
  });

  app.post(`${base}/run`, async (c) => {
    const { connectionId, name, variant } = target(c);
    const full = (await formField(c, 'full')) === '1';
    const api = c.get('api');
    const { runs: [latest] } = await api.get<{ runs: Run[] }>('/runs', { connection_id: connectionId, sync: name, variant, limit: '1' });
    const result = await api.send<{ queued: boolean; already_queued: boolean }>('POST', `/syncs/${seg(name)}/trigger`, { connection_id: connectionId, variant, full });
    const notice = result.queued ? `${full ? 'Full run' : 'Run'} queued.` : `A run was already queued${full ? '; it will be a full run' : ''}.`;
    return redirectWithNotice(c, syncPath(connectionId, name, variant, '', { after: latest?.id ?? '0' }), notice);
  });

  for (const action of ['pause', 'resume'] as const) {
    app.post(`${base}/${action}`, async (c) => {
      const { connectionId, name, variant } = target(c);
      await c.get('api').send('POST', `/syncs/${seg(name)}/${action}`, { connection_id: connectionId, variant });
      return redirectWithNotice(c, syncPath(connectionId, name, variant), action === 'pause' ? 'Paused: no scheduled runs until resumed.' : 'Resumed.');
    });
  }

  app.post(`${base}/schedule`, async (c) => {
    const { connectionId, name, variant } = target(c);
    const frequency = (await formField(c, 'frequency')).trim();
    // A schedule the API refuses comes back as its 400 page, naming what was wrong.
    const result = await c.get('api').send<{ schedule_override: string | null }>('PUT', `/syncs/${seg(name)}/schedule`, { connection_id: connectionId, variant, frequency: frequency === '' ? null : frequency });
    return redirectWithNotice(c, syncPath(connectionId, name, variant), result.schedule_override ? `Schedule set to "${result.schedule_override}".` : 'Back to the sync’s own schedule.');
  });
}
