/** `proxy` and its verbs: the request is checked and capped here, sent by the worker's host. */
import type { ProxyConfiguration, ProxyResponse } from '@ferry/sdk';
import { ErrorCtor, StringCtor, isArray, keys, parse, stringify } from './builtins.ts';
import { CAPS, checkSize, hostCall, sdkError } from './host.ts';

type Params = Record<string, string>;

export interface WireRequest {
  method: string;
  endpoint: string;
  params: Params;
  headers: Params;
  body?: string;
  retries?: number;
  retryOn?: number[];
  baseUrlOverride?: string;
}

export function headerValue(headers: Params, name: string): string | undefined {
  for (const k of keys(headers)) if (k.toLowerCase() === name) return headers[k];
  return undefined;
}

function parseQuery(text: string): Params {
  const out: Params = {};
  for (const pair of StringCtor(text).replace(/^\?/, '').split('&')) {
    if (!pair) continue;
    const at = pair.indexOf('=');
    const k = decodeURIComponent(at < 0 ? pair : pair.slice(0, at));
    out[k] = at < 0 ? '' : decodeURIComponent(pair.slice(at + 1));
  }
  return out;
}

export function toParams(params: ProxyConfiguration['params'] | null | undefined): Params {
  if (params == null) return {};
  if (typeof params === 'string') return parseQuery(params);
  const out: Params = {};
  for (const k of keys(params)) {
    const v = params[k];
    // An array is sent comma-joined (`ids=1,2,3`).
    if (v !== undefined && v !== null) out[k] = isArray(v) ? v.map((e) => StringCtor(e)).join(',') : StringCtor(v);
  }
  return out;
}

function decodeBody(response: { headers: Params; body: string }, responseType: ProxyConfiguration['responseType']): unknown {
  const contentType = headerValue(response.headers, 'content-type') || '';
  if (responseType === 'text') return response.body;
  if (responseType === 'json' || /[/+]json\b/i.test(contentType)) {
    if (response.body === '') return '';
    try {
      return parse(response.body);
    } catch {
      return response.body;
    }
  }
  return response.body;
}

export type ProxyError = Error & { status: number; data: unknown; response: ProxyResponse };

export async function proxy<T = any>(config: ProxyConfiguration): Promise<ProxyResponse<T>> {
  if (!config || typeof config.endpoint !== 'string' || config.endpoint === '') {
    throw sdkError('INVALID_ARGUMENT', 'proxy: `endpoint` must be a non-empty string');
  }
  const method = StringCtor(config.method || 'GET').toUpperCase();
  const headers: Params = {};
  if (config.headers) for (const k of keys(config.headers)) headers[k] = StringCtor(config.headers[k]);
  const request: WireRequest = { method, endpoint: config.endpoint, params: toParams(config.params), headers };
  if (config.data !== undefined) {
    if (typeof config.data === 'string') request.body = config.data;
    else {
      request.body = stringify(config.data);
      if (headerValue(headers, 'content-type') === undefined) headers['content-type'] = 'application/json';
    }
  }
  if (config.retries !== undefined) request.retries = config.retries;
  if (config.retryOn !== undefined) request.retryOn = config.retryOn;
  if (config.baseUrlOverride !== undefined) request.baseUrlOverride = config.baseUrlOverride;
  const text = stringify(request);
  checkSize(text, CAPS.proxyRequestBytes, 'proxy request');
  const raw = parse(await hostCall('proxy', text)) as { status: number; headers: Params; body: string; failure?: string };
  const data = decodeBody(raw, config.responseType) as T;
  const response: ProxyResponse<T> = { status: raw.status, headers: raw.headers, data };
  if (raw.status >= 400) {
    // The host's description names the method, the full URL (credentials redacted), the status and the body's start.
    const error = new ErrorCtor(`Request failed with status code ${raw.status}: ${raw.failure ?? `${method} ${config.endpoint}`}`) as ProxyError;
    error.status = raw.status;
    error.data = data;
    error.response = response;
    throw error;
  }
  return response;
}
