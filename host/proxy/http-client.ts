/**
 * One HTTP exchange for the proxy, over node:http(s) rather than fetch so the connection goes
 * only to addresses the SSRF guard accepted (the guard sits in DNS lookup; IP-literal hosts are
 * checked before connecting). Redirects are never followed here; bodies are capped while read.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { AddressBlockedError, guardedLookup, isPrivateAddress, type LookupFn } from './address-guard.ts';

export interface HttpExchange {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  timeoutMs: number;
  maxResponseBytes: number;
  allowPrivate: boolean;
  lookup?: LookupFn;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class HttpError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

function flattenHeaders(response: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(response.headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

export function exchange(x: HttpExchange): Promise<HttpResult> {
  const host = x.url.hostname.replace(/^\[|\]$/g, '');
  if (!x.allowPrivate && isIP(host) && isPrivateAddress(host)) {
    return Promise.reject(new AddressBlockedError(`${host} is a private address the proxy may not reach`));
  }
  const send = x.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<HttpResult>((resolve, reject) => {
    const req = send(x.url, {
      method: x.method,
      headers: x.body === undefined ? x.headers : { ...x.headers, 'content-length': String(Buffer.byteLength(x.body)) },
      lookup: guardedLookup(x.allowPrivate, x.lookup),
      signal: AbortSignal.timeout(x.timeoutMs),
    }, (response) => {
      const declared = Number(response.headers['content-length'] ?? '0');
      if (declared > x.maxResponseBytes) {
        response.destroy();
        reject(new HttpError('RESPONSE_TOO_LARGE', `response of ${declared} bytes exceeds the ${x.maxResponseBytes}-byte cap`));
        return;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      response.on('data', (chunk: Buffer) => {
        total += chunk.byteLength;
        if (total > x.maxResponseBytes) {
          response.destroy();
          reject(new HttpError('RESPONSE_TOO_LARGE', `response exceeds the ${x.maxResponseBytes}-byte cap`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: flattenHeaders(response), body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    req.on('error', (err: Error & { code?: string }) => {
      if (err instanceof AddressBlockedError || err.code === 'ADDRESS_BLOCKED') reject(err);
      else if (err.name === 'TimeoutError' || err.name === 'AbortError') reject(new HttpError('TIMEOUT', `timed out after ${x.timeoutMs} ms`));
      else reject(err);
    });
    if (x.body !== undefined) req.write(x.body);
    req.end();
  });
}
