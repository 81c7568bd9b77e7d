/**
 * The hosted connect page, server-rendered with hono/html (every interpolated value is
 * escaped). No JavaScript but the result page's few lines that tell a popup's opener the outcome.
 */
import { html, raw } from 'hono/html';
import type { Provider } from '../connections/providers.ts';
import type { FormField } from './fields.ts';

export type Html = ReturnType<typeof html>;

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
main{max-width:28rem;margin:3rem auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin:0 0 1rem}ul{list-style:none;padding:0;margin:0}li{margin:.5rem 0}
a.provider,button{display:block;width:100%;box-sizing:border-box;text-align:left;padding:.75rem 1rem;border:1px solid #ccd;border-radius:8px;background:#fff;color:inherit;text-decoration:none;font:inherit;cursor:pointer}
button{background:#2856d8;color:#fff;border:0;text-align:center;margin-top:1rem}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}input{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #ccd;border-radius:6px;font:inherit}
.error{background:#fde8e8;color:#8a1c1c;padding:.75rem 1rem;border-radius:8px}.ok{background:#e6f6ea;color:#17612e;padding:.75rem 1rem;border-radius:8px}
.muted{color:#667;font-size:.9rem}`;

export function layout(title: string, body: Html, script?: { nonce: string; code: string }): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Connect</title><style>${raw(STYLE)}</style></head>
<body><main>${body}</main>${script ? html`<script nonce="${script.nonce}">${raw(script.code)}</script>` : ''}</body></html>`;
}

const nameOf = (p: Pick<Provider, 'name' | 'display_name'>) => p.display_name ?? p.name;
const withToken = (path: string, token: string) => `${path}?session_token=${encodeURIComponent(token)}`;

export function chooserPage(o: { token: string; providers: Provider[]; reconnecting: string | null }): Html {
  return layout('Choose an app', html`
<h1>${o.reconnecting ? 'Reconnect your account' : 'Connect an account'}</h1>
${o.providers.length === 0 ? html`<p class="error">No app can be connected with this link.</p>` : html`<ul>
${o.providers.map((p) => html`<li><a class="provider" data-provider="${p.name}" href="${withToken(`/connect/providers/${encodeURIComponent(p.name)}`, o.token)}">${nameOf(p)}</a></li>`)}
</ul>`}`);
}

export function formPage(o: { token: string; provider: Provider; fields: FormField[]; oauth: boolean; error?: string; values?: Record<string, string> }): Html {
  const action = o.oauth ? `/connect/providers/${encodeURIComponent(o.provider.name)}/authorize` : `/connect/providers/${encodeURIComponent(o.provider.name)}`;
  return layout(`Connect ${nameOf(o.provider)}`, html`
<h1>Connect ${nameOf(o.provider)}</h1>
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<form method="${o.oauth ? 'get' : 'post'}" action="${action}">
<input type="hidden" name="session_token" value="${o.token}">
${o.fields.map((f) => html`<label for="f-${f.name}">${f.label}${f.optional ? ' (optional)' : ''}</label>
<input id="f-${f.name}" name="${f.name}" type="${f.secret ? 'password' : 'text'}" autocomplete="off"${f.optional ? '' : raw(' required')}
 ${f.example ? html`placeholder="${f.example}"` : ''} value="${f.secret ? '' : (o.values?.[f.name] ?? '')}">`)}
<button type="submit">${o.oauth ? `Continue to ${nameOf(o.provider)}` : 'Connect'}</button>
</form>
${o.provider.connect?.docs_url ? html`<p class="muted"><a href="${o.provider.connect.docs_url}" target="_blank" rel="noopener noreferrer">Where do I find these?</a></p>` : ''}`);
}

export interface Outcome {
  status: 'success' | 'error';
  provider: string | null;
  connection_id?: string | undefined;
  error?: { code: string; message: string } | undefined;
}

/**
 * The end of a flow. A popup posts the outcome to its opener (only to the return URL's origin
 * when the session has one) and closes; otherwise, with a return URL, the browser goes there
 * with the outcome in the query.
 */
export function resultPage(o: { outcome: Outcome; title: string; message: string; returnUrl: string | null; nonce: string }): Html {
  const back = o.returnUrl ? returnHref(o.returnUrl, o.outcome) : null;
  const message = { type: 'ferry:connect', ...o.outcome };
  const code = `(function(){var m=${JSON.stringify(message).replace(/</g, '\\u003c')};var t=${JSON.stringify(o.returnUrl ? new URL(o.returnUrl).origin : '*')};` +
    `if(window.opener){try{window.opener.postMessage(m,t)}catch(e){}setTimeout(function(){window.close()},${o.outcome.status === 'success' ? 300 : 5000});return}` +
    `${back && o.outcome.status === 'success' ? `setTimeout(function(){location.assign(${JSON.stringify(back)})},800);` : ''}})();`;
  return layout(o.title, html`
<h1>${o.title}</h1>
<p class="${o.outcome.status === 'success' ? 'ok' : 'error'}" role="${o.outcome.status === 'success' ? 'status' : 'alert'}" data-outcome="${o.outcome.status}">${o.message}</p>
${o.outcome.error ? html`<p class="muted">Code: <code>${o.outcome.error.code}</code></p>` : ''}
${back ? html`<p><a href="${back}">Back to the app</a></p>` : html`<p class="muted">You can close this window.</p>`}`, { nonce: o.nonce, code });
}

export function returnHref(returnUrl: string, outcome: Outcome): string {
  const url = new URL(returnUrl);
  url.searchParams.set('status', outcome.status);
  if (outcome.provider) url.searchParams.set('provider', outcome.provider);
  if (outcome.connection_id) url.searchParams.set('connection_id', outcome.connection_id);
  if (outcome.error) url.searchParams.set('error', outcome.error.code);
  return url.toString();
}

export function problemPage(title: string, message: string): Html {
  return layout(title, html`<h1>${title}</h1><p class="error" role="alert">${message}</p>`);
}
