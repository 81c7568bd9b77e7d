/** Connections: list and create; one connection with its syncs, models and metadata; delete. */
import { html } from 'hono/html';
import { FerryApiError, seg, withQuery } from '../api-client.ts';
import { inexactMessage, parseExactJson } from '../../api/exact-json.ts';
import type { Connection, Script } from '../api-types.ts';
import { formField, redirectWithNotice, render, type DashboardApp, type DashboardContext } from '../context.ts';
import { actionForm, badge, formatTime, href } from '../layout.ts';
import { syncLabel, syncPath, syncsOf } from './overview.ts';
import { pageOf, pager } from './paging.ts';
import { modelsOf } from './records.ts';

/** A JSON object typed into a form ('' is none); the API validates the rest. */
async function jsonObjectField(c: DashboardContext, name: string): Promise<Record<string, unknown> | null> {
  const text = (await formField(c, name)).trim();
  if (text === '') return null;
  let parsed: ReturnType<typeof parseExactJson>;
  try {
    parsed = parseExactJson(text);
  } catch {
    throw new FerryApiError(400, 'INVALID_JSON', `${name} is not valid JSON`);
  }
  // Sent on re-serialised: a number the float cannot hold would reach the API already changed.
  if (parsed.inexact) throw new FerryApiError(400, 'INVALID_INPUT', `${[name, ...parsed.inexact.path].join('.')}: ${inexactMessage(parsed.inexact)}`);
  const value = parsed.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FerryApiError(400, 'INVALID_INPUT', `${name} must be a JSON object`);
  return value as Record<string, unknown>;
}

async function credentialsField(c: DashboardContext): Promise<Record<string, string>> {
  const type = await formField(c, 'credential_type');
  const secret = await formField(c, 'secret');
  switch (type) {
    case 'api_key': return { type, apiKey: secret };
    case 'bearer': return { type, token: secret };
    case 'basic': return { type, username: await formField(c, 'username'), password: secret };
    default: return { type: 'none' };
  }
}

export function registerConnectionPages(app: DashboardApp) {
  app.get('/connections', async (c) => {
    const api = c.get('api');
    // Connections made through connect belong to an end user of the app: filter by one.
    const endUser = c.req.query('end_user')?.trim() || null;
    const [{ connections }, { providers }] = await Promise.all([
      api.get<{ connections: Connection[] }>(endUser ? withQuery('/connections', { end_user_id: endUser }) : '/connections'),
      api.get<{ providers: Array<{ name: string }> }>('/providers'),
    ]);
    const shown = pageOf(connections, c.req.query('page'), 50);
    const endUserLink = (conn: Connection) => conn.end_user
      ? html`<a href="${href(withQuery('/connections', { end_user: conn.end_user.id }))}">${conn.end_user.id}</a>${conn.end_user.org_id ? html` <span class="muted">(${conn.end_user.org_id})</span>` : ''}`
      : html`<span class="muted">—</span>`;
    return render(c, {
      title: 'Connections', section: 'connections',
      body: html`<h1>Connections${endUser ? html` of end user ${endUser}` : ''}</h1>
<form method="get" action="${href('/connections')}" class="actions" id="end-user-filter">
  <input name="end_user" placeholder="end user id" value="${endUser ?? ''}"><button type="submit">Filter</button>
  ${endUser ? html`<a href="${href('/connections')}">All connections</a>` : ''}
</form>
<div class="table-scroll"><table id="connections"><thead><tr><th>Connection</th><th>Provider</th><th>End user</th><th>Created</th><th>Metadata</th></tr></thead><tbody>
${connections.length === 0 ? html`<tr><td colspan="5" class="muted">${endUser ? 'No connections for this end user.' : 'No connections yet.'}</td></tr>` : ''}
${shown.items.map((conn) => html`<tr><td><a href="${href(`/connections/${seg(conn.connection_id)}`)}">${conn.connection_id}</a></td><td>${conn.provider}</td>
<td>${endUserLink(conn)}</td><td>${formatTime(conn.created_at)}</td><td><code>${conn.metadata ? JSON.stringify(conn.metadata).slice(0, 100) : ''}</code></td></tr>`)}
</tbody></table></div>
${pager(shown, endUser ? withQuery('/connections', { end_user: endUser }) : '/connections')}
<h2>New connection</h2>
<form method="post" action="${href('/connections')}" class="actions" id="new-connection"><input type="hidden" name="csrf" value="${c.get('csrf')}">
  <input name="connection_id" placeholder="connection id" required>
  <select name="provider" required>${providers.map((p) => html`<option value="${p.name}">${p.name}</option>`)}</select>
  <select name="credential_type"><option value="none">no credentials</option><option value="bearer">bearer token</option><option value="api_key">API key</option><option value="basic">basic auth</option></select>
  <input name="username" placeholder="username (basic)" autocomplete="off">
  <input name="secret" type="password" placeholder="token / key / password" autocomplete="new-password">
  <input name="metadata" placeholder='metadata, e.g. {"team":"sales"}' size="30">
  <button type="submit" class="primary">Create</button>
</form>`,
    });
  });

  app.post('/connections', async (c) => {
    const connectionId = (await formField(c, 'connection_id')).trim();
    await c.get('api').send('POST', '/connections', {
      connection_id: connectionId, provider: await formField(c, 'provider'),
      credentials: await credentialsField(c), metadata: await jsonObjectField(c, 'metadata'),
    });
    return redirectWithNotice(c, `/connections/${seg(connectionId)}`, `Connection ${connectionId} created.`);
  });

  app.get('/connections/:connection', async (c) => {
    const api = c.get('api');
    const connectionId = c.req.param('connection');
    const [connection, { scripts }] = await Promise.all([
      api.get<Connection>(`/connections/${seg(connectionId)}`),
      api.get<{ scripts: Script[] }>('/scripts'),
    ]);
    const syncs = await syncsOf(api, connection, scripts);
    const models = modelsOf(scripts, connection);
    const csrf = c.get('csrf');
    return render(c, {
      title: connectionId, section: 'connections',
      body: html`<p class="muted"><a href="${href('/connections')}">Connections</a> › connection</p>
<h1>${connectionId} <span class="muted">${connection.provider}</span></h1>
<dl class="facts"><dt>Created</dt><dd>${formatTime(connection.created_at)}</dd><dt>Updated</dt><dd>${formatTime(connection.updated_at)}</dd></dl>
<h2>Syncs</h2>
<div class="table-scroll"><table id="connection-syncs"><thead><tr><th>Sync</th><th>State</th><th>Last run</th><th>Next run</th></tr></thead><tbody>
${syncs.length === 0 ? html`<tr><td colspan="4" class="muted">No syncs for provider ${connection.provider}.</td></tr>` : ''}
${syncs.map((s) => html`<tr><td><a href="${href(syncPath(connectionId, s.sync, s.variant))}">${syncLabel(s.sync, s.variant)}</a></td><td>${badge(s.state)}</td>
<td>${s.last_run ? html`<a href="${href(`/runs/${s.last_run.id}`)}">#${s.last_run.id}</a> ${formatTime(s.last_run.started_at)}` : 'never'}</td><td>${formatTime(s.next_run_at)}</td></tr>`)}
</tbody></table></div>
<h2>Records</h2>
<p>${models.length === 0 ? html`<span class="muted">No models.</span>` : models.map((m) => html`<a href="${href(withQuery(`/connections/${seg(connectionId)}/records`, { model: m }))}">${m}</a> `)}</p>
<h2>Metadata</h2>
<form method="post" action="${href(`/connections/${seg(connectionId)}/metadata`)}"><input type="hidden" name="csrf" value="${csrf}">
<textarea name="metadata" rows="6" cols="80" id="metadata">${JSON.stringify(connection.metadata ?? {}, null, 2)}</textarea><br>
<button type="submit">Save metadata</button></form>
<h2>Delete</h2>
<p class="muted">Deletes the connection with its records and run history.</p>
${actionForm(csrf, `/connections/${seg(connectionId)}/delete`, `Delete ${connectionId}`, { className: 'danger', confirm: `Delete ${connectionId} and all its records?` })}`,
    });
  });

  app.post('/connections/:connection/metadata', async (c) => {
    const connectionId = c.req.param('connection');
    await c.get('api').send('PUT', `/connections/${seg(connectionId)}/metadata`, (await jsonObjectField(c, 'metadata')) ?? {});
    return redirectWithNotice(c, `/connections/${seg(connectionId)}`, 'Metadata saved.');
  });

  app.post('/connections/:connection/delete', async (c) => {
    const connectionId = c.req.param('connection');
    await c.get('api').send('DELETE', `/connections/${seg(connectionId)}`);
    return redirectWithNotice(c, '/connections', `Connection ${connectionId} deleted.`);
  });
}
