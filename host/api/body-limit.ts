/**
 * The request body cap of every route that reads a body, the API's and the dashboard's forms
 * alike: over API_LIMITS.bodyBytes it is a 413 with the JSON error shape, counted as the bytes
 * arrive (a chunked body with no content-length too), before any of it is parsed or buffered.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { errorBody } from './errors.ts';
import { API_LIMITS } from './limits.ts';

export function requestBodyLimit(): MiddlewareHandler {
  return bodyLimit({
    maxSize: API_LIMITS.bodyBytes,
    onError: (c) => c.json(errorBody('PAYLOAD_TOO_LARGE', `request body exceeds ${API_LIMITS.bodyBytes / 1024 / 1024} MiB`), 413),
  });
}
