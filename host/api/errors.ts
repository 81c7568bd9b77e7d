/** The API's one error shape: `{ error: { code, message, issues? } }` with a 4xx/5xx status. */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { isTransientDatabaseError } from '../db/transient.ts';
import { inexactMessage, parseExactJson } from './exact-json.ts';
import { requestValueIssue } from './request-bounds.ts';

export interface ErrorIssue {
  path: string[];
  message: string;
}

export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly issues: ErrorIssue[] | undefined;
  constructor(status: ContentfulStatusCode, code: string, message: string, issues?: ErrorIssue[]) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = issues;
  }
}

export const notFound = (what: string) => new ApiError(404, 'NOT_FOUND', `${what} not found`);

export function errorBody(code: string, message: string, issues?: ErrorIssue[]) {
  return { error: issues ? { code, message, issues } : { code, message } };
}

/** The error shape as a schema, for the OpenAPI document and for clients. */
export const ErrorResponseSchema = z.object({
  error: z.object({
    code: z.string().describe('Stable, machine-readable: INVALID_REQUEST, NOT_FOUND, UNAUTHORIZED, …'),
    message: z.string(),
    issues: z.array(z.object({ path: z.array(z.string()), message: z.string() })).optional(),
  }),
});

/**
 * Coded errors of the stores that are the caller's fault, and their status: the record store's
 * read path, and a write over a cap the store holds whoever writes (merged metadata).
 */
const CALLER_ERROR_STATUS = new Map<string, ContentfulStatusCode>([
  ...['INVALID_CURSOR', 'INVALID_LIMIT', 'INVALID_FILTER', 'INVALID_MODIFIED_AFTER', 'INVALID_IDS'].map((code) => [code, 400] as const),
  ['PAYLOAD_TOO_LARGE', 413],
]);

/**
 * Postgres refusing a value the request carried: class 22 (data exception: NUL bytes, numbers
 * out of range, bad encodings) and 54000 (program limit, e.g. a key too long for an index).
 */
function isInputRefusedByPostgres(err: unknown): boolean {
  if ((err as { name?: unknown }).name !== 'PostgresError') return false;
  const code = String((err as { code?: unknown }).code);
  return code.startsWith('22') || code === '54000';
}

/** Codes for the client errors Hono's own middleware and helpers raise (HTTPException). */
const HTTP_EXCEPTION_CODES: Record<number, string> = { 400: 'INVALID_REQUEST', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE' };

export function renderError(c: Context, err: unknown) {
  if (err instanceof ApiError) return c.json(errorBody(err.code, err.message, err.issues), err.status);
  if (err instanceof HTTPException && err.status < 500) {
    return c.json(errorBody(HTTP_EXCEPTION_CODES[err.status] ?? `HTTP_${err.status}`, err.message || 'the request was refused'), err.status);
  }
  const code = (err as { code?: unknown }).code;
  const callerStatus = typeof code === 'string' ? CALLER_ERROR_STATUS.get(code) : undefined;
  if (callerStatus !== undefined) return c.json(errorBody(code as string, (err as Error).message), callerStatus);
  // A lost database connection is not the caller's fault nor a bug: try again shortly.
  if (isTransientDatabaseError(err)) return c.json(errorBody('DATABASE_UNAVAILABLE', 'the database connection was lost; retry shortly'), 503, { 'retry-after': '1' });
  if (isInputRefusedByPostgres(err)) return c.json(errorBody('INVALID_REQUEST', 'a value in the request cannot be stored or compared (too long, out of range, or containing a NUL character)'), 400);
  return c.json(errorBody('INTERNAL', 'internal error'), 500);
}

/** A 400 naming one field; its keys shown with NUL and lone surrogates replaced, as they cannot be JSON text. */
function fieldError(where: 'query' | 'body' | 'params', keys: string[], message: string): ApiError {
  const path = keys.map((p) => p.replace(/[\u0000\ud800-\udfff]/g, '\ufffd'));
  return new ApiError(400, 'INVALID_REQUEST', `invalid ${where}: ${path.join('.')}: ${message}`, [{ path, message }]);
}

/** The edge rule of every route (request-bounds.ts): a 400 naming the field that breaks it. */
export function checkRequestValue(value: unknown, where: 'query' | 'body' | 'params', options: { keepProtoKeys?: boolean } = {}): void {
  const unsafe = requestValueIssue(value, [where], options);
  if (unsafe) throw fieldError(where, unsafe.path, unsafe.message);
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A request's JSON body from its bytes: not UTF-8 (RFC 8259) or not JSON is a 400 INVALID_JSON
 * (`what` names the body), and a number it cannot keep exactly a 400 naming where (exact-json.ts).
 * `empty` is what a body of only whitespace stands for, when it may be empty. `inexact: 'float'`
 * reads such a number as JSON.parse does (the nearest float), for bodies whose sender cannot be
 * asked to change them: a provider's webhook.
 */
export function parseJsonBytes(
  bytes: ArrayBuffer | Uint8Array,
  what: string,
  empty?: unknown,
  inexact: 'refuse' | 'float' = 'refuse',
): unknown {
  let text: string;
  try {
    // Bytes that are not UTF-8 are refused, not stored as U+FFFD.
    text = STRICT_UTF8.decode(bytes);
  } catch {
    throw new ApiError(400, 'INVALID_JSON', `${what} is not valid UTF-8`);
  }
  if (empty !== undefined && text.trim() === '') return empty;
  let parsed: ReturnType<typeof parseExactJson>;
  try {
    parsed = inexact === 'float' ? { value: JSON.parse(text), inexact: null } : parseExactJson(text);
  } catch {
    throw new ApiError(400, 'INVALID_JSON', `${what} is not valid JSON`);
  }
  if (parsed.inexact) throw fieldError('body', ['body', ...parsed.inexact.path.slice(0, 5)], inexactMessage(parsed.inexact));
  return parsed.value;
}

/** Validates one part of a request (after the edge rule); the 400 names every offending field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: 'query' | 'body' | 'params'): z.infer<S> {
  checkRequestValue(value, where);
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: [where, ...i.path.map(String)], message: i.message }));
  const summary = issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  throw new ApiError(400, 'INVALID_REQUEST', `invalid ${where}: ${summary}`, issues);
}

/**
 * Media types a JSON body may be declared as: JSON itself, and text/plain, which fetch() sends
 * for a string body when no content-type is given. Another (a form, XML) is a 415 naming it,
 * rather than its bytes read as JSON.
 */
function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined || header.trim() === '') return true;
  const [type = '', ...params] = header.toLowerCase().split(';').map((p) => p.trim());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return false;
  return type === 'application/json' || type === 'text/plain' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/** Reads a JSON body; malformed JSON is a 400 and another declared media type a 415, not a 500. */
export async function jsonBody(c: Context): Promise<unknown> {
  const contentType = c.req.header('content-type');
  if (!isJsonContentType(contentType)) {
    const message = `the body must be JSON in UTF-8 (content-type: application/json), not ${JSON.stringify(contentType?.slice(0, 100))}`;
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', message, [{ path: ['headers', 'content-type'], message }]);
  }
  return parseJsonBytes(await c.req.arrayBuffer(), 'request body', {});
}

/**
 * Reads a form body (application/x-www-form-urlencoded or multipart/form-data) for the pages:
 * one that does not parse (a cut multipart) is a 400, not a 500. An HTTPException, so that the
 * dashboard shows it as a page and the API as its JSON error (renderError).
 */
export async function formBody(c: Context): Promise<Record<string, string | File>> {
  try {
    return await c.req.parseBody();
  } catch {
    throw new HTTPException(400, { message: 'the request body is not a valid form (application/x-www-form-urlencoded or multipart/form-data)' });
  }
}
