/**
 * A route's contract as data: the same zod schemas its handler validates with, plus the shape
 * of what it returns. Each route file exports its specs next to its handlers; the OpenAPI
 * document is generated from them, and a test checks that every route registered on the app
 * has one, so none can be forgotten.
 */
import type { z } from 'zod';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ResponseSpec {
  description: string;
  /** Omitted for bodiless responses (204) or when the body is not JSON (text/plain). */
  schema?: z.ZodType;
  contentType?: string;
}

export interface RouteSpec {
  method: HttpMethod;
  /** Hono syntax: `/runs/:id`. */
  path: string;
  summary: string;
  description?: string;
  /** Groups routes in the document (e.g. "records", "syncs"). */
  tag: string;
  /** Default true: needs `Authorization: Bearer <secret key>`. */
  auth?: boolean;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success responses by status. Error responses (the API's one error shape) are added for every route. */
  responses: Record<number, ResponseSpec>;
}

/** Identity with checking: `export const runRouteSpecs = defineRoutes([...])`. */
export function defineRoutes(specs: RouteSpec[]): RouteSpec[] {
  return specs;
}
