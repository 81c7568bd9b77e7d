/**
 * A small typed client for apps: records as an async iterator that exposes the cursor to keep,
 * trigger an action, trigger a sync. Only `fetch`; no dependency on the host's code.
 */
import { errorFromResponse, FerryApiError } from './errors.ts';
import { readRecordsPage } from './page-body.ts';

export type RecordAction = 'added' | 'updated' | 'deleted';

export interface FerryMetadata {
  first_seen_at: string;
  last_modified_at: string;
  last_action: RecordAction;
  deleted_at: string | null;
  /** This version's position; keep the last one you processed to resume after it. */
  cursor: string;
}

export type FerryRecord<T extends object = Record<string, unknown>> = T & { id: string; _ferry_metadata: FerryMetadata };

export interface RecordsPage<T extends object = Record<string, unknown>> {
  records: FerryRecord<T>[];
  next_cursor: string | null;
}

export interface RecordsQuery {
  connectionId: string;
  model: string;
  /** The sync variant whose records to read (default 'base'): each variant's records are their own stream. */
  variant?: string;
  /** Resume after this cursor (the `cursor` of an earlier iterator, or a record's `_ferry_metadata.cursor`). */
  cursor?: string | null;
  /** Page size, 1–10,000 (default 1,000). */
  limit?: number;
  modifiedAfter?: Date | string;
  filter?: RecordAction[];
  ids?: string[];
}

export interface RecordIterator<T extends object> extends AsyncIterable<FerryRecord<T>> {
  /**
   * The cursor of the last record handed out (or the starting cursor): after the loop, persist it
   * to resume exactly after that record. To commit per record instead, persist each record's
   * `_ferry_metadata.cursor` once you have processed it.
   */
  readonly cursor: string | null;
}

export interface FerryClientOptions {
  /** Base URL of the Ferry API, e.g. https://ferry.internal:3003 */
  url: string;
  /** An environment's secret key. */
  secretKey: string;
  /** Per-request timeout (default 30 s; actions run scripts, so give them room). */
  timeoutMs?: number;
  /** Retries of idempotent reads after a network error or 500/502/503/504 (default 2), honouring Retry-After up to 10 s. */
  retries?: number;
  fetch?: typeof fetch;
}

export interface ActionResult<O> {
  runId: string;
  output: O;
}

export interface SyncTriggerResult {
  /** False when a run of this pair was already queued (it will pick up the latest state). */
  queued: boolean;
}

/** One variant of a sync on a connection (see `addSyncVariant`). */
export interface SyncVariant {
  variant: string;
  paused: boolean;
  schedule: string | null;
  schedule_override: string | null;
  next_run_at: string;
  last_sync_date: string | null;
}

export interface SyncVariantArgs {
  connectionId: string;
  variant: string;
}

export interface FerryClient {
  records<T extends object = Record<string, unknown>>(query: RecordsQuery): RecordIterator<T>;
  /**
   * The same records a page at a time, in cursor order, until a page is empty. The next page is
   * already asked for while the app handles this one (and while this one is parsed); leaving the
   * loop cancels it. Resume with the last page's `next_cursor`.
   */
  recordPages<T extends object = Record<string, unknown>>(query: RecordsQuery): AsyncIterable<RecordsPage<T>>;
  recordsPage<T extends object = Record<string, unknown>>(query: RecordsQuery): Promise<RecordsPage<T>>;
  triggerAction<O = unknown>(name: string, args: { connectionId: string; input?: unknown }): Promise<ActionResult<O>>;
  triggerSync(name: string, args: { connectionId: string; full?: boolean; variant?: string }): Promise<SyncTriggerResult>;
  /** The sync's variants on the connection, base first. */
  syncVariants(name: string, args: { connectionId: string }): Promise<SyncVariant[]>;
  /** Adds an independent copy of the sync on the connection (its runs read `nango.variant`); `frequency` overrides the sync's schedule for it. */
  addSyncVariant(name: string, args: SyncVariantArgs & { frequency?: string }): Promise<SyncVariant>;
  /** Removes a variant: its state goes, its records are marked deleted. Returns how many. */
  removeSyncVariant(name: string, args: SyncVariantArgs): Promise<{ deletedRecords: number }>;
  /** Any other route of the API (see GET /openapi.json). */
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

const RETRYABLE_STATUS = new Set([500, 502, 503, 504]);
const MAX_RETRY_AFTER_MS = 10_000;

/** Retry-After in seconds (or an HTTP date), as milliseconds to wait; null when absent or unreadable. */
function retryAfterMs(header: string | null): number | null {
  if (header === null) return null;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS) : null;
}

/** Node's setImmediate (no 1 ms clamp), or a zero timeout where there is none (browsers). */
const soon: (run: () => void) => unknown = (globalThis as { setImmediate?: (run: () => void) => unknown }).setImmediate ?? ((run) => setTimeout(run, 0));
/** Resolves after one turn of the event loop: queued promise callbacks and I/O run first. */
const turn = () => new Promise<void>((resolve) => { soon(resolve); });

export function createFerryClient(options: FerryClientOptions): FerryClient {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retries = options.retries ?? 2;

  /** One attempt: the body as `read` gives it when the response is a success. */
  async function once<R>(method: string, path: string, body: unknown, read: (response: Response) => Promise<R>, signal?: AbortSignal): Promise<{ retryable: boolean; error?: FerryApiError; value?: R; waitMs?: number | null }> {
    let response: Response;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${options.secretKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
      if (!response.ok) {
        const text = await response.text();
        return { retryable: RETRYABLE_STATUS.has(response.status), error: errorFromResponse(response.status, text), waitMs: retryAfterMs(response.headers.get('retry-after')) };
      }
      return { retryable: false, value: await read(response) };
    } catch (err) {
      // A body that is not JSON is not the network's doing: thrown as JSON.parse threw it.
      if (err instanceof SyntaxError) throw err;
      // Given up by the caller (a reader that left): nothing to retry or report.
      if (signal?.aborted) return { retryable: false, error: new FerryApiError(0, 'ABORTED', `${method} ${path}: cancelled`) };
      return { retryable: true, error: new FerryApiError(0, 'NETWORK_ERROR', `${method} ${path}: ${(err as Error).message}`) };
    }
  }

  /** The body of a successful response as `read` gives it, idempotent reads retried. */
  async function requestWith<R>(method: string, path: string, body: unknown, read: (response: Response) => Promise<R>, signal?: AbortSignal): Promise<R> {
    const attempts = method === 'GET' ? retries + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      const result = await once(method, path, body, read, signal);
      if (!result.error) return result.value!;
      if (!result.retryable || attempt >= attempts) throw result.error;
      await new Promise((resolve) => setTimeout(resolve, result.waitMs ?? 100 * 2 ** attempt));
    }
  }

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const text = await requestWith(method, path, body, (response) => response.text());
    return (text === '' ? null : JSON.parse(text)) as T;
  }

  function recordsPath(query: RecordsQuery, cursor: string | null | undefined): string {
    const params = new URLSearchParams({ connection_id: query.connectionId, model: query.model, limit: String(query.limit ?? 1000) });
    if (query.variant !== undefined) params.set('variant', query.variant);
    if (cursor) params.set('cursor', cursor);
    if (query.modifiedAfter !== undefined) params.set('modified_after', typeof query.modifiedAfter === 'string' ? query.modifiedAfter : query.modifiedAfter.toISOString());
    if (query.filter?.length) params.set('filter', query.filter.join(','));
    for (const id of query.ids ?? []) params.append('ids', id);
    return `/records?${params}`;
  }

  /** One page, its records parsed as they arrive (page-body.ts). */
  const readPage = <T extends object>(query: RecordsQuery, cursor: string | null | undefined, signal?: AbortSignal) =>
    requestWith('GET', recordsPath(query, cursor), undefined, async (response) => (await readRecordsPage(response.body)) as RecordsPage<T>, signal);

  const recordsPage = <T extends object>(query: RecordsQuery) => readPage<T>(query, query.cursor);

  async function* recordPages<T extends object>(query: RecordsQuery): AsyncGenerator<RecordsPage<T>> {
    // Each page has its own controller: leaving the loop cancels just the page asked for ahead.
    const fetchPage = (cursor: string | null | undefined) => {
      const stop = new AbortController();
      const page = readPage<T>(query, cursor, stop.signal);
      page.catch(() => {}); // its error is thrown when the page is awaited, not reported unhandled
      return { page, cancel: () => stop.abort() };
    };
    let next = fetchPage(query.cursor);
    try {
      for (;;) {
        // Parsed as its bytes arrived: the host and Postgres produced it while this process parsed.
        const page = await next.page;
        if (page.records.length === 0 || page.next_cursor === null) return;
        // Ask for the following page before the app handles this one, so the host and Postgres
        // build it meanwhile. fetch() returns before its request is written (undici puts it on
        // the socket a few promise turns later), and an app that handles the page synchronously
        // would hold it back: one turn of the event loop lets it leave first
        // (test/api/client-pages.test.ts).
        next = fetchPage(page.next_cursor);
        await turn();
        yield page;
      }
    } finally {
      next.cancel();
    }
  }

  return {
    recordsPage,
    recordPages,

    records<T extends object>(query: RecordsQuery): RecordIterator<T> {
      let cursor = query.cursor ?? null;
      return {
        get cursor() { return cursor; },
        async *[Symbol.asyncIterator]() {
          for await (const page of recordPages<T>({ ...query, cursor })) {
            for (const record of page.records) {
              cursor = record._ferry_metadata.cursor;
              yield record;
            }
          }
        },
      };
    },

    async triggerAction<O>(name: string, args: { connectionId: string; input?: unknown }): Promise<ActionResult<O>> {
      const body = await request<{ run_id: string; output: O }>('POST', `/actions/${encodeURIComponent(name)}`, { connection_id: args.connectionId, input: args.input });
      return { runId: body.run_id, output: body.output };
    },

    async triggerSync(name: string, args: { connectionId: string; full?: boolean; variant?: string }): Promise<SyncTriggerResult> {
      const body = await request<{ queued: boolean }>('POST', `/syncs/${encodeURIComponent(name)}/trigger`, {
        connection_id: args.connectionId, full: args.full ?? false, ...(args.variant !== undefined && { variant: args.variant }),
      });
      return { queued: body.queued };
    },

    async syncVariants(name: string, args: { connectionId: string }): Promise<SyncVariant[]> {
      const query = new URLSearchParams({ connection_id: args.connectionId });
      return (await request<{ variants: SyncVariant[] }>('GET', `/syncs/${encodeURIComponent(name)}/variants?${query}`)).variants;
    },

    async addSyncVariant(name: string, args: SyncVariantArgs & { frequency?: string }): Promise<SyncVariant> {
      const body = await request<SyncVariant & { sync: string; connection_id: string }>('POST', `/syncs/${encodeURIComponent(name)}/variants`, {
        connection_id: args.connectionId, variant: args.variant, ...(args.frequency !== undefined && { frequency: args.frequency }),
      });
      const { sync: _sync, connection_id: _connection, ...variant } = body;
      return variant;
    },

    async removeSyncVariant(name: string, args: SyncVariantArgs): Promise<{ deletedRecords: number }> {
      const query = new URLSearchParams({ connection_id: args.connectionId });
      const body = await request<{ deleted_records: number }>('DELETE', `/syncs/${encodeURIComponent(name)}/variants/${encodeURIComponent(args.variant)}?${query}`);
      return { deletedRecords: body.deleted_records };
    },

    request,
  };
}
