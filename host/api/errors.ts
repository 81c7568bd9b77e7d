/** The API's one error shape: `{ error: { code, message, issues? } }` with a 4xx/5xx status. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';

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

export function renderError(c: Context, err: unknown) {
  if (err instanceof ApiError) return c.json(errorBody(err.code, err.message, err.issues), err.status);
  const code = (err as { code?: unknown }).code;
  if (code === 'INVALID_CURSOR') return c.json(errorBody('INVALID_CURSOR', (err as Error).message), 400);
  return c.json(errorBody('INTERNAL', 'internal error'), 500);
}

/** Validates one part of a request; the 400 names every offending field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: 'query' | 'body' | 'params'): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: [where, ...i.path.map(String)], message: i.message }));
  const summary = issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  throw new ApiError(400, 'INVALID_REQUEST', `invalid ${where}: ${summary}`, issues);
}

/** Reads a JSON body; malformed JSON is a 400, not a 500. */
export async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'INVALID_JSON', 'request body is not valid JSON');
  }
}
