/**
 * A connection's records of one model, read with GET /records: forward cursor paging, a filter
 * on the last action, search by id; and one record's JSON with Ferry's metadata.
 */
import { html } from 'hono/html';
import { seg, withQuery } from '../api-client.ts';
import type { Connection, FerryRecord, Script } from '../api-types.ts';
import { render, type DashboardApp } from '../context.ts';
import { badge, formatTime, href, notFoundPage } from '../layout.ts';

const PAGE_SIZE = 50;
const FILTERS = ['added', 'updated', 'deleted'] as const;

/** Models the syncs deployed for the connection's provider write. */
export function modelsOf(scripts: Script[], connection: Connection): string[] {
  const models = new Set<string>();
  for (const s of scripts) if (s.provider === connection.provider) for (const m of s.manifest.models ?? []) models.add(m);
  return [...models].sort();
}

function preview(record: FerryRecord): string {
  const { id: _id, _ferry_metadata: _meta, ...fields } = record;
  const text = JSON.stringify(fields);
  return text.length > 140 ? `${text.slice(0, 140)}…` : text;
}

export function registerRecordPages(app: DashboardApp) {
  app.get('/connections/:connection/records', async (c) => {
    const api = c.get('api');
    const connectionId = c.req.param('connection');
    const [connection, { scripts }] = await Promise.all([
      api.get<Connection>(`/connections/${seg(connectionId)}`),
      api.get<{ scripts: Script[] }>('/scripts'),
    ]);
    const models = modelsOf(scripts, connection);
    const model = c.req.query('model') || models[0];
    const filter = FILTERS.find((f) => f === c.req.query('filter'));
    const id = (c.req.query('id') ?? '').trim();
    const cursor = c.req.query('cursor');
    const base = `/connections/${seg(connectionId)}/records`;
    const page = model
      ? await api.get<{ records: FerryRecord[]; next_cursor: string | null }>('/records', {
        connection_id: connectionId, model, limit: String(PAGE_SIZE), filter, ids: id || undefined, cursor: id ? undefined : cursor,
      })
      : { records: [], next_cursor: null };
    const query = { model, filter };
    return render(c, {
      title: `Records · ${connectionId}`, section: 'connections',
      body: html`<p class="muted"><a href="${href(`/connections/${seg(connectionId)}`)}">${connectionId}</a> › records</p>
<h1>Records of ${connectionId}</h1>
<form class="actions" method="get" action="${href(base)}">
  <label>Model <select name="model">${models.map((m) => html`<option value="${m}"${m === model ? ' selected' : ''}>${m}</option>`)}</select></label>
  <label>Last action <select name="filter"><option value="">any</option>${FILTERS.map((f) => html`<option value="${f}"${f === filter ? ' selected' : ''}>${f}</option>`)}</select></label>
  <label>Id <input name="id" value="${id}" placeholder="record id"></label>
  <button type="submit">Show</button>
</form>
${model ? '' : html`<p class="muted">No model: no sync is deployed for provider ${connection.provider}.</p>`}
<div class="table-scroll"><table id="records"><thead><tr><th>Id</th><th>Last action</th><th>Last modified</th><th>First seen</th><th>Fields</th></tr></thead><tbody>
${page.records.length === 0 ? html`<tr><td colspan="5" class="muted">${cursor ? 'No more records.' : 'No records.'}</td></tr>` : ''}
${page.records.map((r) => html`<tr><td><a href="${href(`${base}/${seg(model!)}/${seg(r.id)}`)}">${r.id}</a></td><td>${badge(r._ferry_metadata.last_action)}</td>
<td>${formatTime(r._ferry_metadata.last_modified_at)}</td><td>${formatTime(r._ferry_metadata.first_seen_at)}</td><td><code>${preview(r)}</code></td></tr>`)}
</tbody></table></div>
<nav class="pager">${cursor ? html`<a href="${href(withQuery(base, query))}">← First page</a>` : ''}
${page.records.length === PAGE_SIZE && page.next_cursor && !id ? html`<a id="next-page" href="${href(withQuery(base, { ...query, cursor: page.next_cursor }))}">Next page →</a>` : ''}</nav>`,
    });
  });

  app.get('/connections/:connection/records/:model/:id', async (c) => {
    const api = c.get('api');
    const { connection: connectionId, model, id } = c.req.param();
    const { records } = await api.get<{ records: FerryRecord[] }>('/records', { connection_id: connectionId, model, ids: id });
    const record = records[0];
    if (!record) return c.html(notFoundPage(`record "${id}" of ${model} not found`, c.get('csrf')), 404);
    const { _ferry_metadata: meta, ...data } = record;
    return render(c, {
      title: `${model} ${id}`, section: 'connections',
      body: html`<p class="muted"><a href="${href(`/connections/${seg(connectionId)}`)}">${connectionId}</a> ›
<a href="${href(withQuery(`/connections/${seg(connectionId)}/records`, { model }))}">${model}</a> › record</p>
<h1>${model} <code>${id}</code> ${badge(meta.last_action)}</h1>
<dl class="facts"><dt>First seen</dt><dd>${formatTime(meta.first_seen_at)}</dd><dt>Last modified</dt><dd>${formatTime(meta.last_modified_at)}</dd>
<dt>Deleted</dt><dd>${formatTime(meta.deleted_at)}</dd><dt>Cursor</dt><dd><code>${meta.cursor}</code></dd></dl>
<h2>JSON</h2><pre id="record-json">${JSON.stringify(data, null, 2)}</pre>`,
    });
  });
}
