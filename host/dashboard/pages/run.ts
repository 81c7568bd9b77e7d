/**
 * One run: its status and usage, the error with the script's source location, its logs (live
 * while it runs), the provider calls it made through the proxy and the records refused.
 */
import { html } from 'hono/html';
import { formatLocation, SourceLocationSchema } from '@ferry/runtime/contract';
import { withQuery } from '../api-client.ts';
import type { Call, LogLine, Rejected, Run } from '../api-types.ts';
import { render, type DashboardApp, type DashboardContext } from '../context.ts';
import { badge, formatBytes, formatMs, formatTime, href, type Html } from '../layout.ts';
import { syncLabel, syncPath } from './overview.ts';

const LOG_PAGE = 1000;
const LIST_PAGE = 200;

function errorSection(run: Run): Html | string {
  if (!run.error) return '';
  // The host maps the stack through the bundle's source map and records the script's own frame.
  const where = SourceLocationSchema.safeParse(run.error.location).data;
  return html`<h2>Error</h2><div class="notice error" id="run-error"><b>${run.error.code ?? 'ERROR'}</b> <span class="muted">(${run.error.kind ?? 'unknown'})</span>: ${run.error.message ?? ''}
${where ? html`<br>at <code class="source-location">${formatLocation(where)}</code>` : ''}</div>
${run.error.stack ? html`<pre>${run.error.stack}</pre>` : ''}`;
}

function logLines(logs: LogLine[]): Html {
  return html`<pre class="logs" id="logs">${logs.length === 0 ? html`<span class="muted">No log lines${''}.</span>` : ''}${logs.map((l) => html`<span class="log-${l.level}">${new Date(l.at).toISOString().slice(11, 23)} ${l.level.padEnd(5)} ${l.message}</span>\n`)}</pre>`;
}

function details(run: Run, logs: LogLine[], logsAfter: number, moreLogs: boolean, calls: Call[], rejected: Rejected[]): Html {
  return html`<dl class="facts">
<dt>Status</dt><dd>${badge(run.status)}</dd>
${run.kind === 'sync' ? html`<dt>Variant</dt><dd id="run-variant">${run.variant}</dd>` : ''}
${run.part !== null ? html`<dt>Part</dt><dd id="run-part"><code>${run.part}</code> of the <a href="${href(`${syncPath(run.connection_id, run.sync, run.variant)}#split-pass`)}">split pass</a></dd>` : ''}
<dt>Trigger</dt><dd>${run.trigger}${run.full ? ' (full run)' : ''}</dd>
<dt>Started</dt><dd>${formatTime(run.started_at)}</dd><dt>Finished</dt><dd>${formatTime(run.finished_at)}</dd>
${run.fetch_window ? html`<dt>Fetch window</dt><dd>${run.fetch_window.last_sync_date ? html`lastSyncDate ${formatTime(run.fetch_window.last_sync_date)}` : 'everything (no lastSyncDate)'}${run.fetch_window.checkpoint ? html`, checkpoint <code>${JSON.stringify(run.fetch_window.checkpoint)}</code>` : ''}</dd>` : ''}
<dt>Records</dt><dd>${run.counts.added} added, ${run.counts.updated} updated, ${run.counts.deleted} deleted, ${run.counts.unchanged} unchanged, ${run.counts.rejected} rejected</dd>
<dt>Wall / CPU</dt><dd>${formatMs(run.usage?.wall_ms)} / ${formatMs(run.usage?.cpu_ms)}</dd>
<dt>Peak memory</dt><dd id="peak-memory">${run.usage ? formatBytes(run.usage.peak_heap_bytes) : '–'}${run.memory_limit_mb ? html` <span class="muted">of ${run.memory_limit_mb} MiB</span>` : ''}</dd>
<dt>Provider calls</dt><dd>${run.usage?.proxy_calls ?? calls.length}</dd>
</dl>
${errorSection(run)}
<h2>Logs</h2>
${logLines(logs)}
<nav class="pager">${logsAfter >= 0 ? html`<a href="${href(`/runs/${run.id}`)}">← First lines</a>` : ''}${moreLogs ? html`<a href="${href(withQuery(`/runs/${run.id}`, { logs_after: String(logs.at(-1)!.seq) }))}">Later lines →</a>` : ''}</nav>
<h2>Provider calls</h2>
<div class="table-scroll"><table id="calls"><thead><tr><th>Method</th><th>Path</th><th class="num">Status</th><th class="num">Duration</th><th class="num">Retries</th><th>Error</th><th>At</th></tr></thead><tbody>
${calls.length === 0 ? html`<tr><td colspan="7" class="muted">No proxied calls.</td></tr>` : ''}
${calls.map((call) => html`<tr><td>${call.method}</td><td><code>${call.path}</code></td><td class="num">${call.status ?? '–'}</td><td class="num">${formatMs(call.durationMs)}</td><td class="num">${call.retries}</td><td class="error">${call.error ?? ''}</td><td>${formatTime(call.at)}</td></tr>`)}
</tbody></table></div>
<h2>Rejected records</h2>
<div class="table-scroll"><table id="rejected"><thead><tr><th>Model</th><th>Record id</th><th>Reason</th><th>At</th></tr></thead><tbody>
${rejected.length === 0 ? html`<tr><td colspan="4" class="muted">None.</td></tr>` : ''}
${rejected.map((r) => html`<tr><td>${r.model}</td><td>${r.record_id ?? html`<span class="muted">no id</span>`}</td><td>${r.reason}</td><td>${formatTime(r.rejected_at)}</td></tr>`)}
</tbody></table></div>`;
}

async function load(c: DashboardContext) {
  const id = c.req.param('id')!;
  const api = c.get('api');
  const afterParam = c.req.query('logs_after');
  const logsAfter = afterParam && /^\d{1,9}$/.test(afterParam) ? Number(afterParam) : -1;
  const run = await api.get<Run>(`/runs/${id}`);
  const [{ logs }, { calls }, { rejected }] = await Promise.all([
    api.get<{ logs: LogLine[] }>(`/runs/${id}/logs`, { after: String(logsAfter), limit: String(LOG_PAGE) }),
    api.get<{ calls: Call[] }>(`/runs/${id}/calls`, { limit: String(LIST_PAGE) }),
    api.get<{ rejected: Rejected[] }>(`/runs/${id}/rejected`, { limit: String(LIST_PAGE) }),
  ]);
  return { run, logs, logsAfter, moreLogs: logs.length === LOG_PAGE, calls, rejected };
}

export function registerRunPages(app: DashboardApp) {
  app.get('/runs/:id{[0-9]{1,19}}', async (c) => {
    const { run, logs, logsAfter, moreLogs, calls, rejected } = await load(c);
    const live = run.status === 'running' && logsAfter < 0;
    return render(c, {
      title: `Run #${run.id}`, section: 'overview',
      body: html`<p class="muted"><a href="${href(`/connections/${encodeURIComponent(run.connection_id)}`)}">${run.connection_id}</a> ›
${run.kind === 'sync' ? html`<a href="${href(syncPath(run.connection_id, run.sync, run.variant))}">${syncLabel(run.sync, run.variant)}</a>` : html`${run.kind} ${run.sync}`} › run</p>
<h1>Run #${run.id} of ${run.sync} <span class="muted">v${run.version}</span></h1>
<div id="run-details"${live ? html` data-live="${href(`/runs/${run.id}/live`)}"` : ''}>${details(run, logs, logsAfter, moreLogs, calls, rejected)}</div>`,
    });
  });

  app.get('/runs/:id{[0-9]{1,19}}/live', async (c) => {
    const { run, logs, logsAfter, moreLogs, calls, rejected } = await load(c);
    return c.html(details(run, logs, logsAfter, moreLogs, calls, rejected), 200, run.status === 'running' ? {} : { 'x-ferry-live': 'done' });
  });
}
