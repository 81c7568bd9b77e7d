/**
 * A small typed client for apps: records as an async iterator that exposes the cursor to keep,
 * trigger an action, trigger a sync. Only `fetch`; no dependency on the host's code.
 */
import { errorFromResponse, FerryApiError } from './errors.ts';

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

export function createFerryClient(options: FerryClientOptions): FerryClient {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retries = options.retries ?? 2;

  async function once<T>(method: string, path: string, body: unknown): Promise<{ retryable: boolean; error?: FerryApiError; value?: T; waitMs?: number | null }> {
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${options.secretKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      return { retryable: true, error: new FerryApiError(0, 'NETWORK_ERROR', `${method} ${path}: ${(err as Error).message}`) };
    }
    const text = await response.text();
    if (!response.ok) {
      return { retryable: RETRYABLE_STATUS.has(response.status), error: errorFromResponse(response.status, text), waitMs: retryAfterMs(response.headers.get('retry-after')) };
    }
    return { retryable: false, value: (text === '' ? null : JSON.parse(text)) as T };
  }

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const attempts = method === 'GET' ? retries + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      const result = await once<T>(method, path, body);
      if (!result.error) return result.value as T;
      if (!result.retryable || attempt >= attempts) throw result.error;
      await new Promise((resolve) => setTimeout(resolve, result.waitMs ?? 100 * 2 ** attempt));
    }
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

  const recordsPage = <T extends object>(query: RecordsQuery) => request<RecordsPage<T>>('GET', recordsPath(query, query.cursor));

  return {
    recordsPage,

    records<T extends object>(query: RecordsQuery): RecordIterator<T> {
      let cursor = query.cursor ?? null;
      return {
        get cursor() { return cursor; },
        async *[Symbol.asyncIterator]() {
          let pageCursor = cursor;
          for (;;) {
            const page = await request<RecordsPage<T>>('GET', recordsPath(query, pageCursor));
            if (page.records.length === 0 || page.next_cursor === null) return;
            for (const record of page.records) {
              cursor = record._ferry_metadata.cursor;
              yield record;
            }
            pageCursor = page.next_cursor;
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
