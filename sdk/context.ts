/**
 * The object a script's `exec` receives. Method names and shapes follow Nango's
 * `NangoAction`/`NangoSync` so existing scripts keep working; `NangoSync`/`NangoAction` are
 * exported as aliases for that reason.
 */
import type { ActionError } from './errors.ts';
import type { ZodSchemaLike } from './types.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ProxyConfiguration {
  /** Path relative to the provider's base URL, e.g. `/v1/contacts`. */
  endpoint: string;
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** An array value is sent comma-joined. */
  params?: string | Record<string, string | number | boolean | ReadonlyArray<string | number> | undefined>;
  headers?: Record<string, string>;
  data?: unknown;
  /** How many times the host retries 429/5xx/network errors (default 3 for reads, 0 for writes). */
  retries?: number;
  /** Extra HTTP statuses to retry on. */
  retryOn?: number[];
  /** Another base URL on one of the provider's declared origins (same scheme, host and port); anything else is refused with INVALID_BASE_URL_OVERRIDE. */
  baseUrlOverride?: string;
  /** Accepted for Nango compatibility; the connection is always the run's own. */
  providerConfigKey?: string;
  connectionId?: string;
  /** Pagination settings when the call is used through `paginate`. */
  paginate?: Partial<PaginateConfig>;
  responseType?: 'json' | 'text';
}

export interface ProxyResponse<T = any> {
  status: number;
  headers: Record<string, string>;
  data: T;
}

export interface PaginateConfig {
  /** `page` is `offset` counting pages from 1 (`offset_calculation_method: 'per-page'`). */
  type: 'cursor' | 'link' | 'offset' | 'page';
  /** Where the records sit in the response body (dot path); the body itself when absent. */
  response_path?: string;
  /** Page size sent as `limit_name_in_request`; an offset walk stops at a shorter page. */
  limit?: number | string;
  limit_name_in_request?: string;
  /** cursor: dot path of the next cursor in the body, and the request parameter that carries it. */
  cursor_path_in_response?: string;
  cursor_name_in_request?: string;
  /** link: dot path of the next URL in the body; otherwise the `Link` header's entry of this rel (default `next`). */
  link_path_in_response_body?: string;
  link_rel_in_response_header?: string;
  /** offset/page: the request parameter that carries the offset or page number. */
  offset_name_in_request?: string;
  offset_start_value?: number | string;
  /** 'by-response-size' (default): the offset grows by the records received; 'per-page': by one. */
  offset_calculation_method?: 'by-response-size' | 'per-page';
  /**
   * Called after each page has been handled by the loop (so a checkpoint saved here covers it),
   * with what the next request will send (cursor, next offset or page, next URL), or undefined
   * after the last page.
   */
  on_page?: (page: { nextPageParam: string | number | undefined; response: ProxyResponse }) => void | Promise<void>;
  /**
   * Where the pagination parameters go: the JSON body for POST/PUT/PATCH (their names may be
   * dot paths such as `variables.after` for GraphQL), the query string otherwise. `in_body`
   * forces one or the other.
   */
  in_body?: boolean;
}

export interface ConnectionInfo {
  connection_id: string;
  provider: string;
  /** Nango's name for the provider (`providerConfigKey`); the same value as `provider`. */
  provider_config_key?: string;
  connection_config: Record<string, any>;
  metadata: Record<string, any> | null;
}

/** `Meta` is the connection metadata's type (from the script's `metadata` schema). */
export interface ActionContext<Meta = Record<string, any>> {
  readonly connectionId: string;
  readonly providerConfigKey: string;
  readonly provider: string;

  proxy<T = any>(config: ProxyConfiguration): Promise<ProxyResponse<T>>;
  get<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>>;
  post<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>>;
  put<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>>;
  patch<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>>;
  delete<T = any>(config: Omit<ProxyConfiguration, 'method'>): Promise<ProxyResponse<T>>;
  paginate<T = any>(config: ProxyConfiguration): AsyncGenerator<T[], undefined, void>;

  getConnection(): Promise<ConnectionInfo>;
  getMetadata<M = Meta>(): Promise<M>;
  setMetadata(metadata: Meta extends Record<string, any> ? Meta : Record<string, any>): Promise<void>;
  updateMetadata(metadata: Partial<Meta extends Record<string, any> ? Meta : Record<string, any>>): Promise<void>;

  /** `log('msg', { level: 'warn' })` as in Nango; any other arguments are joined into the line. */
  log(...args: unknown[]): void;

  /**
   * Nango's input check: the schema's safeParse result when `input` is valid; otherwise each
   * issue is logged at error level and an ActionError ('Invalid input provided') is thrown.
   */
  zodValidateInput<T = unknown>(options: { zodSchema: ZodSchemaLike<T>; input: unknown }): Promise<{ success: true; data: T }>;

  /** `throw new nango.ActionError({ message, ... })`: the action answers 400 with the payload, as in Nango. */
  readonly ActionError: typeof ActionError;
}

export interface SyncContext<Models extends Record<string, unknown> = Record<string, any>, Meta = Record<string, any>, Checkpoint = Record<string, any>> extends ActionContext<Meta> {
  /** Start of the last successful run; null on the first run or a full run. */
  readonly lastSyncDate: Date | null;
  /** True when this run ignores `lastSyncDate` and the checkpoint. */
  readonly isFullRun: boolean;
  /**
   * Which copy of the sync this run is (as in Nango): 'base', or the name a variant was added
   * with (a mailbox, a repo…), e.g. to choose what to read. Each variant has its own records,
   * lastSyncDate, checkpoint and schedule.
   */
  readonly variant: string;
  /**
   * The part of a split full pass this run reads (the sync's `split`): its key and, for a time
   * split, its window (`to` exclusive; null = open). A key split's part has one of the keys its
   * `partitions` returned and from/to null. Null for a run that reads everything it is given.
   */
  readonly partition: { key: string; from: Date | null; to: Date | null } | null;

  batchSave<K extends keyof Models & string>(records: Models[K][], model: K): Promise<boolean>;
  batchUpdate<K extends keyof Models & string>(records: Partial<Models[K]>[], model: K): Promise<boolean>;
  batchDelete<K extends keyof Models & string>(records: Pick<Models[K], never>[] | { id: string | number }[], model: K): Promise<boolean>;

  /** The checkpoint typed by the sync's `checkpoint` schema (as in Nango), null when there is none. */
  getCheckpoint<T = Checkpoint>(): Promise<T | null>;
  saveCheckpoint(checkpoint: Checkpoint): Promise<void>;
  clearCheckpoint(): Promise<void>;

  /**
   * Delete detection across a paginated walk: records of `model` not saved (or updated) between
   * trackDeletesStart and trackDeletesEnd are marked deleted at trackDeletesEnd. A run resumed
   * from a checkpoint continues the window its crashed predecessor opened.
   */
  trackDeletesStart<K extends keyof Models & string>(model: K): Promise<void>;
  trackDeletesEnd<K extends keyof Models & string>(model: K): Promise<void>;

  /**
   * The live records of `model` this sync holds for the connection (earlier runs' saves and this
   * run's), as saved, one at a time: `for await (const record of nango.listRecords('Ticket'))`.
   * Read a page at a time from the host, so memory stays flat however many there are.
   */
  listRecords<K extends keyof Models & string>(model: K): AsyncGenerator<Models[K], void, undefined>;
}

/** Nango's names, so `NangoSync`-typed helpers port unchanged. */
/**
 * What a key split's `split.partitions` receives: the provider (proxy, paginate…) and metadata
 * to list what to read, e.g. the account's repos or mailboxes. It writes no records and has no
 * checkpoint: it runs again, whole, when its run is retried.
 */
export interface SplitContext<Meta = Record<string, any>> extends ActionContext<Meta> {
  /** Always null: a split pass reads everything. */
  readonly lastSyncDate: null;
  readonly isFullRun: true;
  /** The variant whose pass is split ('base' unless the sync has variants). */
  readonly variant: string;
}

export type NangoSync<Models extends Record<string, unknown> = Record<string, any>, Meta = Record<string, any>, Checkpoint = Record<string, any>> = SyncContext<Models, Meta, Checkpoint>;
export type NangoAction<Meta = Record<string, any>> = ActionContext<Meta>;
