import type { IncomingMessage, ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import { retryTransient } from '../../db/transient.ts';
import { z } from 'zod';
import { MAX_IDS } from '../../store/records-read.ts';
import { MAX_PAGE_LIMIT, releasePageChunk, type RecordStore } from '../../store/records.ts';
import { BASE_VARIANT, storedModel, VariantName } from '../../sync/variants.ts';
import { hashKey, type Environments } from '../../tenancy/environments.ts';
import type { Logger } from '../../logger.ts';
import type { ApiEnv } from '../app.ts';
import { bearerKey, unknownKey } from '../auth.ts';
import { ApiError, notFound, parseInput } from '../errors.ts';
import { RecordIdSchema } from '../limits.ts';
import { defineRoutes } from '../openapi/index.ts';
import { createReadAhead } from './records-read-ahead.ts';

export interface RecordRouteDeps {
  environments: Environments;
  records: RecordStore;
  logger: Logger;
  /** Read the page after a full one ahead (records-read-ahead.ts; FERRY_RECORDS_READ_AHEAD). */
  recordsReadAhead?: boolean;
}

const CursorSchema = z.string().regex(/^\d{1,19}$/, 'a cursor is the next_cursor of an earlier page');

export const RecordsQuery = z.strictObject({
  connection_id: z.string().min(1).max(255),
  model: z.string().min(1).max(255),
  variant: VariantName.default(BASE_VARIANT).describe("The sync variant whose records to read (default base): each variant's records are a separate stream"),
  cursor: CursorSchema.optional().describe('The next_cursor of the last page read (exclusive). Omit to start from the beginning.'),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_LIMIT).default(100),
  modified_after: z.iso.datetime({ offset: true }).optional().describe('Only records last modified after this time.'),
  filter: z.string().regex(/^(added|updated|deleted)(,(added|updated|deleted))*$/, 'comma-separated added, updated, deleted').optional()
    .describe('Only records whose last action is one of these (comma-separated).'),
  ids: z.union([z.string(), z.array(z.string())]).optional()
    .describe(`Only these record ids: comma-separated, or the parameter repeated (each value is split on commas). At most ${MAX_IDS}.`),
});

const FerryMetadataSchema = z.object({
  first_seen_at: z.string().describe('ISO-8601 UTC'),
  last_modified_at: z.string(),
  last_action: z.enum(['added', 'updated', 'deleted']),
  deleted_at: z.string().nullable(),
  cursor: z.string().describe('This version of the record; pages are ordered by it'),
});

export const RecordsPageSchema = z.object({
  records: z.array(z.looseObject({ id: z.string(), _ferry_metadata: FerryMetadataSchema })),
  next_cursor: z.string().nullable().describe('Pass as cursor to continue; null when the page is empty (keep your cursor).'),
});

export const recordRouteSpecs = defineRoutes([{
  method: 'get', path: '/records', tag: 'records', query: RecordsQuery,
  summary: 'Read records of one model of a connection, in cursor order',
  description: 'A reader that keeps following next_cursor sees every change exactly once, even when writers commit out of order.',
  responses: { 200: { description: 'One page', schema: RecordsPageSchema }, 404: { description: 'Unknown connection, or a model the connection does not have (UNKNOWN_MODEL; the message names its models)' } },
}]);

const IdsSchema = z.array(RecordIdSchema).min(1).max(MAX_IDS);

/** Query parameters with repeated keys kept as arrays (only `ids` may repeat; others fail validation). */
function queryWithRepeats(queries: Record<string, string[]>): Record<string, string | string[]> {
  return Object.fromEntries(Object.entries(queries).map(([k, v]) => [k, v.length === 1 ? v[0]! : v]));
}

const EMPTY_PAGE = Buffer.from('{"records":[],"next_cursor":null}');

/** An empty page of a model the connection does not have is a typo, not "nothing new": 404 naming the models it has. */
async function refuseUnknownModel(records: RecordStore, connection: string, connectionId: string, model: string, variant: string): Promise<void> {
  const { models, variants } = await records.modelsOf(connection);
  if (!models.includes(model)) {
    const known = models.length > 0 ? `its models are ${models.join(', ')}` : 'it has no models yet (deploy a sync that declares one)';
    throw new ApiError(404, 'UNKNOWN_MODEL', `connection "${connectionId}" has no model "${model}": ${known}`, [{ path: ['model'], message: known }]);
  }
  if (variant !== BASE_VARIANT && !variants.includes(variant)) {
    const known = variants.length > 0 ? `its variants are ${variants.join(', ')}` : 'it has no variants besides base (add one with POST /syncs/:name/variants)';
    throw new ApiError(404, 'UNKNOWN_VARIANT', `connection "${connectionId}" has no sync variant "${variant}": ${known}`, [{ path: ['variant'], message: known }]);
  }
}

const READ_RETRY_MS = [50];
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Writes a page body straight to Node's response, each chunk handed back to the record store once
 * the socket has taken its bytes (releasePageChunk: reused chunks spare the host a full GC every
 * ~10 pages). @hono/node-server would write the same bytes, but without telling when a chunk is
 * free, and it waits a timer turn for a second chunk that is still being built. A page that ends
 * with its first chunk gets a Content-Length; a longer one is chunked and sent as it is built.
 * A failure after the first bytes cuts the response short of its closing brace (destroyed), so a
 * reader never takes a cut page for a whole one; a reader that goes away cancels the page.
 */
function sendPage(outgoing: ServerResponse, body: ReadableStream<Uint8Array>): void {
  const reader = body.getReader();
  const stop = () => { reader.cancel().catch(() => {}); };
  outgoing.once('close', stop);
  const written = (chunk: Uint8Array) => (err?: Error | null) => { if (!err) releasePageChunk(chunk); };
  let held: Uint8Array | null = null;
  const fail = (err: unknown) => {
    outgoing.off('close', stop);
    outgoing.destroy(err instanceof Error ? err : new Error(String(err)));
  };
  const next = (): void => {
    reader.read().then(({ done, value }) => {
      if (done) {
        outgoing.off('close', stop);
        if (held) outgoing.end(held, written(held));
        else outgoing.end();
        return;
      }
      if (held === null && !outgoing.headersSent) {
        held = value;
        return next();
      }
      if (held) {
        outgoing.write(held, written(held));
        held = null;
      }
      if (outgoing.write(value, written(value))) next();
      else outgoing.once('drain', next);
    }, fail);
  };
  outgoing.statusCode = 200;
  outgoing.setHeader('content-type', JSON_TYPE);
  next();
}

export function recordRoutes(deps: RecordRouteDeps) {
  const app = new Hono<ApiEnv>();
  const readAhead = !deps.recordsReadAhead ? null : createReadAhead({ records: deps.records, logger: deps.logger.child({ module: 'records-read-ahead' }) });

  // Registered before the app-wide key middleware: it authenticates itself, inside the page
  // query (one round trip per page: records-read.ts). The key is still checked first when the
  // query is invalid (a bad key is a 401 whatever the query, as on every other route), and again
  // when the page is empty, to tell an unknown key (401) from an unknown connection (404).
  app.get('/records', async (c) => {
    const key = bearerKey(c);
    let q: z.infer<typeof RecordsQuery>;
    let ids: string[] | undefined;
    try {
      q = parseInput(RecordsQuery, queryWithRepeats(c.req.queries()), 'query');
      ids = q.ids === undefined ? undefined : parseInput(
        z.object({ ids: IdsSchema }),
        { ids: [q.ids].flat().flatMap((v) => v.split(',')).filter((id) => id !== '') },
        'query',
      ).ids;
    } catch (err) {
      if (!await deps.environments.findByKey(key)) throw unknownKey();
      throw err;
    }
    // Spliced from the stored JSON bytes as Postgres sends them, never decoded, parsed or
    // re-encoded, and streamed while the rest of the page arrives (bench/api). Reads are tried
    // once more on a lost database connection, then answered 503 + Retry-After (errors.ts).
    // A reader that goes away, before the first byte or mid-page, aborts the request's signal
    // (@hono/node-server does on a close before the response finished): the query is cancelled.
    const { incoming, outgoing } = (c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined) ?? {};
    const { signal } = c.req.raw;
    const args = {
      connectionId: { keyHash: hashKey(key), connectionId: q.connection_id },
      model: storedModel(q.model, q.variant),
      cursor: q.cursor ?? null,
      limit: q.limit,
      ...(q.filter ? { filter: q.filter.split(',') as ('added' | 'updated' | 'deleted')[] } : {}),
      ...(q.modified_after ? { modifiedAfter: new Date(q.modified_after) } : {}),
      ...(ids ? { ids } : {}),
    };
    // The page this socket's previous request read ahead for this one, if it is still exactly
    // what this request would read (records-read-ahead.ts); else read now.
    const socket = incoming?.socket;
    let page = outgoing && readAhead ? await readAhead.claim(socket, args) : null;
    try {
      page ??= await retryTransient(() => deps.records.streamPageBody(args, signal), READ_RETRY_MS);
    } catch (err) {
      // Nobody is left to answer; an app.fetch() caller that aborted gets no response it reads.
      if (!signal.aborted) throw err;
      if (outgoing) return RESPONSE_ALREADY_SENT;
      return new Response(null, { status: 499 });
    }
    if (!page.empty) {
      // c.env is @hono/node-server's { incoming, outgoing } when served by Node; app.fetch()
      // callers (the dashboard, tests) get the stream as a Response.
      if (!outgoing) return c.body(page.body, 200, { 'content-type': JSON_TYPE });
      sendPage(outgoing, page.body);
      readAhead?.follow(socket, args, page);
      return RESPONSE_ALREADY_SENT;
    }
    await page.body.cancel();
    const found = await retryTransient(() => deps.environments.findByKeyWithConnection(key, q.connection_id), READ_RETRY_MS);
    if (!found) throw unknownKey();
    c.set('environment', found.environment);
    if (found.connection === null) throw notFound(`connection "${q.connection_id}"`);
    await refuseUnknownModel(deps.records, found.connection, q.connection_id, q.model, q.variant);
    return c.body(EMPTY_PAGE, 200, { 'content-type': JSON_TYPE });
  });

  return app;
}
