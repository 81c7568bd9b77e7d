/** Deploys: every version, what each changed against the one before it, and rollback. */
import { html } from 'hono/html';
import type { DeployDetail, DeploySummary, Script } from '../api-types.ts';
import { redirectWithNotice, render, type DashboardApp } from '../context.ts';
import { actionForm, badge, formatTime, href } from '../layout.ts';
import { pageOf, pager } from './paging.ts';

type Change = { name: string; kind: string; status: 'new' | 'changed' | 'unchanged' | 'removed'; from?: Script; to?: Script };

/** Scripts by (provider, name): those added, changed (another bundle), kept and removed. */
export function diffScripts(before: Script[], after: Script[]): Change[] {
  const key = (s: Script) => `${s.provider}\0${s.name}`;
  const old = new Map(before.map((s) => [key(s), s]));
  const changes: Change[] = after.map((s) => {
    const was = old.get(key(s));
    old.delete(key(s));
    return { name: s.name, kind: s.kind, status: !was ? 'new' : was.hash !== s.hash ? 'changed' : 'unchanged', ...(was && { from: was }), to: s };
  });
  for (const s of old.values()) changes.push({ name: s.name, kind: s.kind, status: 'removed', from: s });
  const order = { new: 0, changed: 1, removed: 2, unchanged: 3 };
  return changes.sort((a, b) => order[a.status] - order[b.status] || a.name.localeCompare(b.name));
}

/** Top-level manifest fields (frequency, models, limits, …) that differ, as `field: before → after`. */
export function manifestChanges(from: Script | undefined, to: Script | undefined): string[] {
  if (!from || !to) return [];
  const show = (value: unknown) => {
    const text = value === undefined ? '–' : typeof value === 'string' ? value : JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 80)}…` : text;
  };
  const fields = [...new Set([...Object.keys(from.manifest), ...Object.keys(to.manifest)])].sort();
  return fields
    .filter((f) => JSON.stringify(from.manifest[f]) !== JSON.stringify(to.manifest[f]))
    .map((f) => `${f}: ${show(from.manifest[f])} → ${show(to.manifest[f])}`);
}

export function registerDeployPages(app: DashboardApp) {
  app.get('/deploys', async (c) => {
    const { deploys } = await c.get('api').get<{ deploys: DeploySummary[] }>('/deploys');
    const shown = pageOf(deploys, c.req.query('page'), 30);
    const csrf = c.get('csrf');
    return render(c, {
      title: 'Deploys', section: 'deploys',
      body: html`<h1>Deploys</h1>
<div class="table-scroll"><table id="deploys"><thead><tr><th>Version</th><th>Created</th><th>Scripts</th><th>Note</th><th></th></tr></thead><tbody>
${deploys.length === 0 ? html`<tr><td colspan="5" class="muted">Nothing deployed yet: <code>ferry deploy</code>.</td></tr>` : ''}
${shown.items.map((d) => html`<tr data-version="${d.version}"><td><a href="${href(`/deploys/${d.version}`)}">v${d.version}</a> ${d.active ? badge('active') : ''}</td>
<td>${formatTime(d.created_at)}</td><td>${d.scripts}</td><td>${d.rollback_of ? `rollback to v${d.rollback_of}` : ''}</td>
<td>${d.active ? '' : actionForm(csrf, `/deploys/${d.version}/rollback`, `Roll back to v${d.version}`, { confirm: `Make the scripts of v${d.version} active again?` })}</td></tr>`)}
</tbody></table></div>
${pager(shown, '/deploys')}`,
    });
  });

  app.get('/deploys/:version{[0-9]{1,10}}', async (c) => {
    const api = c.get('api');
    const version = Number(c.req.param('version'));
    const deploy = await api.get<DeployDetail>(`/deploys/${version}`);
    const { deploys } = await api.get<{ deploys: DeploySummary[] }>('/deploys');
    const previousVersion = deploys.map((d) => d.version).filter((v) => v < version).sort((a, b) => b - a)[0];
    const previous = previousVersion === undefined ? null : await api.get<DeployDetail>(`/deploys/${previousVersion}`);
    const changes = diffScripts(previous?.scripts ?? [], deploy.scripts);
    return render(c, {
      title: `Deploy v${version}`, section: 'deploys',
      body: html`<p class="muted"><a href="${href('/deploys')}">Deploys</a> › version</p>
<h1>v${version} ${deploy.active ? badge('active') : ''}</h1>
<dl class="facts"><dt>Created</dt><dd>${formatTime(deploy.created_at)}</dd>
<dt>Compared with</dt><dd>${previous ? html`<a href="${href(`/deploys/${previous.version}`)}">v${previous.version}</a>` : 'nothing (first deploy)'}</dd>
${deploy.rollback_of ? html`<dt>Rollback of</dt><dd>v${deploy.rollback_of}</dd>` : ''}</dl>
${deploy.active ? '' : html`<div class="actions">${actionForm(c.get('csrf'), `/deploys/${version}/rollback`, `Roll back to v${version}`, { className: 'primary' })}</div>`}
<h2>What changed</h2>
<div class="table-scroll"><table id="changes"><thead><tr><th>Script</th><th>Kind</th><th>Change</th><th>Version</th><th>Bundle</th><th>Definition</th></tr></thead><tbody>
${changes.map((ch) => html`<tr data-change="${ch.status}"><td>${ch.name}</td><td>${ch.kind}</td><td>${badge(ch.status)}</td>
<td>${ch.from && ch.to && ch.from.version !== ch.to.version ? `v${ch.from.version} → v${ch.to.version}` : `v${(ch.to ?? ch.from)!.version}`}</td>
<td><code>${ch.status === 'changed' ? `${ch.from!.hash.slice(0, 10)} → ${ch.to!.hash.slice(0, 10)}` : (ch.to ?? ch.from)!.hash.slice(0, 10)}</code></td>
<td class="manifest-changes">${manifestChanges(ch.from, ch.to).map((line) => html`<div><code>${line}</code></div>`)}</td></tr>`)}
</tbody></table></div>`,
    });
  });

  app.post('/deploys/:version{[0-9]{1,10}}/rollback', async (c) => {
    const version = c.req.param('version');
    const result = await c.get('api').send<{ version: number }>('POST', `/deploys/${version}/rollback`);
    return redirectWithNotice(c, '/deploys', `Rolled back to v${version}: now active as v${result.version}.`);
  });
}
