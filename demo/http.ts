/** The few HTTP helpers every demo API shares: JSON in and out, and errors that carry a status. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** One provider-like API mounted under a path prefix of the demo server. */
export interface DemoApi {
  /** e.g. `/helpdesk`: the API answers every path under it. */
  readonly prefix: string;
  /** `path` is relative to the prefix, without a trailing slash. */
  handle(method: string, path: string, query: URLSearchParams, req: IncomingMessage): Promise<Reply>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_json', 'request body is not valid JSON');
  }
}

export function intParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const text = query.get(name);
  const value = text === null ? fallback : Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HttpError(400, `invalid_${name}`, `${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

export function dateParam(query: URLSearchParams, name: string): Date | undefined {
  const text = query.get(name);
  if (!text) return undefined;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new HttpError(400, `invalid_${name}`, `${name} must be an ISO 8601 date-time`);
  return date;
}

export function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'invalid_body', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** Strictly increasing timestamps: two changes never share an updated_at. */
export function createClock(): () => Date {
  let last = 0;
  return () => {
    last = Math.max(Date.now(), last + 1);
    return new Date(last);
  };
}
