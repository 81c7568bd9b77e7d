/**
 * The runtime's boundary with the host: what a run is given, what it asks of the host while it
 * runs (the bridge), and what it returns. Everything here crosses a process boundary (host ⇄
 * worker child), so the shapes are zod schemas and plain JSON.
 */
import { z } from 'zod';

export const RUNTIME_PROTOCOL_VERSION = 1;

export const LimitsSchema = z.object({
  memoryMb: z.number().int().min(8).max(4096).default(128),
  wallTimeMs: z.number().int().min(10).max(24 * 3600_000).default(5 * 60_000),
  cpuTimeMs: z.number().int().min(10).max(24 * 3600_000).default(60_000),
});
export type Limits = z.infer<typeof LimitsSchema>;

/** Limits a script declares: only what it set (zod 4's .partial() would keep the defaults). */
export const DeclaredLimitsSchema = z.object({
  memoryMb: LimitsSchema.shape.memoryMb.removeDefault().optional(),
  wallTimeMs: LimitsSchema.shape.wallTimeMs.removeDefault().optional(),
  cpuTimeMs: LimitsSchema.shape.cpuTimeMs.removeDefault().optional(),
});

export const ConnectionInfoSchema = z.object({
  connection_id: z.string(),
  provider: z.string(),
  connection_config: z.record(z.string(), z.unknown()),
  /**
   * null: the connection has none. Absent only in a Nango test whose recorded connection has no
   * `metadata` (`getConnection: {}`): the script's getConnection() is the recording's shape.
   */
  metadata: z.record(z.string(), z.unknown()).nullable().optional(),
});

export const RunJobSchema = z.object({
  runId: z.string(),
  /**
   * The environment the script belongs to. With it, a runtime in warm mode may reuse an isolate
   * of earlier runs of the same bundle in the same environment (a fresh context each run);
   * without it, every run gets a fresh isolate.
   */
  environmentId: z.string().min(1).max(200).optional(),
  /** The esbuild bundle: an IIFE with globalName `__ferry_module`; the script's definition is `__ferry_module.default`. */
  code: z.string(),
  /**
   * webhook: a sync's `onWebhook(ctx, payload)` with the sync context; `input` is the payload.
   * partitions: only a key split's `split.partitions(ctx)`; the result's output is its keys,
   * checked by PartitionKeysSchema.
   */
  kind: z.enum(['sync', 'action', 'webhook', 'partitions']),
  limits: LimitsSchema,
  /** Action input (or webhook payload), as parsed JSON. */
  input: z.unknown().optional(),
  context: z.object({
    lastSyncDate: z.string().nullable(),
    isFullRun: z.boolean(),
    connection: ConnectionInfoSchema,
    checkpoint: z.record(z.string(), z.unknown()).nullable(),
    /** The sync variant this run is of (`nango.variant`); absent = 'base'. */
    variant: z.string().optional(),
    /** The part of a split full pass this run reads (`nango.partition`); absent = none. */
    partition: z.object({ key: z.string(), from: z.string().nullable(), to: z.string().nullable() }).optional(),
    /** The provider's pagination defaults; `paginate()` applies the script's settings over them. */
    paginationDefaults: z.record(z.string(), z.unknown()).optional(),
    /**
     * A test's frozen clock (ms since the epoch): `Date` in the run reads this instant throughout
     * (ferry/testing's `now`, a Nango test's `vi.setSystemTime`). Absent = the real clock; the
     * host never sets it.
     */
    clock: z.number().finite().optional(),
    /**
     * The bridge answers `paginate` itself (HostBridge.paginate): a Nango test whose nango pages
     * for the script (a mocked `nangoMock.paginate`, a hand-made object with `paginate`). The
     * host never sets it.
     */
    hostPaginates: z.boolean().optional(),
  }),
});
export type RunJob = z.input<typeof RunJobSchema>;

export const LogEntrySchema = z.object({
  level: z.enum(['debug', 'info', 'warn', 'error']),
  message: z.string(),
  at: z.string(), // ISO time
});
export type LogEntry = z.infer<typeof LogEntrySchema>;

export const UsageSchema = z.object({
  wallMs: z.number(),
  cpuMs: z.number(),
  peakHeapBytes: z.number(),
  bridgeBytes: z.number(),
  proxyCalls: z.number(),
  /** True when the run reused a warm isolate (same environment and bundle). */
  warmStart: z.boolean().optional(),
});
export type Usage = z.infer<typeof UsageSchema>;

/** The name every bundle is compiled under in its isolate: its stack frames read `file:///script.js:L:C`. */
export const BUNDLE_URL = 'file:///script.js';

/** Where in the script's own source an error was thrown (1-based line and column). */
export const SourceLocationSchema = z.object({ file: z.string(), line: z.number().int(), column: z.number().int() });
export type SourceLocation = z.infer<typeof SourceLocationSchema>;

/** `file:line:col`, as editors and terminals make a link of it. */
export function formatLocation(location: SourceLocation): string {
  return `${location.file}:${location.line}:${location.column}`;
}

/**
 * How a script that does not load (its top level threw: SCRIPT_LOAD_ERROR; or it defines no
 * script: BAD_SCRIPT) is named on every path — compile, dryrun, ferry/testing, deploy — so they
 * read alike: where (the script's own file:line:col when its stack maps, else `file`), the
 * code, the message.
 */
export function scriptLoadProblem(error: Pick<RunError, 'code' | 'message' | 'location'>, file: string): string {
  return `${error.location ? formatLocation(error.location) : file}: ${error.code}: ${error.message}`;
}

/** Why a run failed. `kind` says whose fault; `code` is stable for programs to branch on. */
export const RunErrorSchema = z.object({
  kind: z.enum(['script', 'sdk', 'limit', 'internal']),
  /**
   * script: SCRIPT_ERROR | ACTION_ERROR | NON_RETRYABLE | RETRY_AFTER | SCRIPT_LOAD_ERROR (the
   *   script's own top level threw while the bundle loaded: the error's own message, its stack)
   * sdk: INVALID_INPUT | INVALID_OUTPUT | UNKNOWN_MODEL | PAYLOAD_TOO_LARGE | BRIDGE_ERROR | BAD_SCRIPT
   * limit: MEMORY | CPU | WALL_TIME | STACK_OVERFLOW | OUTPUT_SIZE
   * internal: WORKER_CRASHED | INTERNAL | DATABASE_ERROR (the host lost its database connection or
   *   Postgres asked to retry; retried, never blamed on the script) | RECORD_WRITE_FAILED
   * Host bridge errors the script let escape keep their code: RETRY_AFTER (a provider wait too
   * long to sleep through, with retryAfterMs), CONNECTION_REAUTH_REQUIRED (credentials revoked).
   */
  code: z.string(),
  message: z.string(),
  stack: z.string().optional(),
  /**
   * The first frame of `stack` in the script's own files, mapped through the source map deployed
   * with the bundle (set by the host, never by the isolate; `stack` is mapped too).
   */
  location: SourceLocationSchema.optional(),
  /** For limit errors: the limit and what was used, in the limit's unit. */
  limit: z.number().optional(),
  used: z.number().optional(),
  /** ACTION_ERROR: the type and payload the script gave. */
  type: z.string().optional(),
  payload: z.unknown().optional(),
  retryAfterMs: z.number().optional(),
});
export type RunError = z.infer<typeof RunErrorSchema>;

export const RunResultSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), output: z.unknown(), logs: z.array(LogEntrySchema), usage: UsageSchema }),
  z.object({ ok: z.literal(false), error: RunErrorSchema, logs: z.array(LogEntrySchema), usage: UsageSchema }),
]);
export type RunResult = z.infer<typeof RunResultSchema>;

/** One batchSave/batchUpdate/batchDelete call, after in-isolate validation. */
/**
 * One valid record of a batch. A bridge that sets `packedRows` is handed rows whose `json` is a
 * getter decoding the bytes that crossed from the worker (runtime/packed-records.ts).
 */
export interface RecordRow {
  readonly id: string;
  readonly json: string;
  readonly hash: string;
}

export interface RecordBatch {
  op: 'save' | 'update' | 'delete';
  model: string;
  /** Valid records: id as string, the record's JSON text, and a hash of that text (hex sha1). */
  records: RecordRow[];
  /** Records refused by the model's schema (or without an id), with the reason. */
  rejected: Array<{ id: string | null; reason: string }>;
  /** How many were refused in all; `rejected` describes at most the first 1,000. */
  rejectedCount?: number;
}

export interface BatchResult {
  added: number;
  updated: number;
  unchanged: number;
  deleted: number;
  rejected: number;
}

/**
 * What HTTP lets a header carry (RFC 9110): a name is a token; a value is visible Latin-1, space
 * and tab — no CR/LF (a second header or request smuggled in), no NUL, nothing past U+00FF
 * (fetch refuses it, so it would fail the call later and less clearly).
 */
const HeaderNameSchema = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'a header name is an HTTP token (letters, digits, !#$%&\'*+-.^_`|~)');
const HeaderValueSchema = z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/, 'a header value holds no CR, LF, NUL or other control character, and no character past U+00FF');

export const ProxyRequestSchema = z.object({
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
  endpoint: z.string().min(1),
  params: z.record(z.string(), z.string()).default({}),
  headers: z.record(HeaderNameSchema, HeaderValueSchema).default({}),
  /** Body already serialised (JSON text unless a content-type header says otherwise). */
  body: z.string().optional(),
  retries: z.number().int().min(0).max(10).optional(),
  retryOn: z.array(z.number().int()).optional(),
  baseUrlOverride: z.string().optional(),
});
export type ProxyRequest = z.infer<typeof ProxyRequestSchema>;

export const ProxyResponseSchema = z.object({
  status: z.number().int(),
  headers: z.record(z.string(), z.string()),
  /** Response body as text; the in-isolate SDK parses JSON. */
  body: z.string(),
  /**
   * For a status of 400 or more: the method, the full URL (credentials redacted), the status and
   * the start of the body, as the error a script that lets it escape fails with.
   */
  failure: z.string().max(2000).optional(),
});
export type ProxyResponse = z.infer<typeof ProxyResponseSchema>;

/**
 * What the host does on a script's behalf. The runtime calls these from the parent side of the
 * worker pool; they may throw, and the error message reaches the script as a rejected promise.
 */
export interface HostBridge {
  saveRecords(batch: RecordBatch): Promise<BatchResult>;
  /**
   * True: saveRecords takes the rows as they crossed from the worker (PackedRow: each record's
   * JSON read from bytes off the V8 heap, decoded only if `json` is read). Otherwise each row is
   * a plain object holding its text.
   */
  readonly packedRows?: boolean;
  proxy(request: ProxyRequest): Promise<ProxyResponse>;
  /** Called as logs arrive (so a killed run keeps its logs); the result carries them too. */
  log(entries: LogEntry[]): void;
  getMetadata(): Promise<Record<string, unknown>>;
  setMetadata(metadata: Record<string, unknown>, merge: boolean): Promise<void>;
  saveCheckpoint(checkpoint: Record<string, unknown> | null): Promise<void>;
  /** trackDeletesStart/End: records of `model` not saved between start and end are deleted at end. */
  trackDeletes?(model: string, phase: 'start' | 'end'): Promise<void>;
  /**
   * listRecords: one page of the live records of `model` the host holds for this sync (as saved,
   * this run's saves included), after `cursor` (null = from the start); `next` is null after the
   * last page.
   */
  listRecords?(model: string, cursor: string | null, limit: number): Promise<RecordsPage>;
  /**
   * Only where the run's context says `hostPaginates` (a Nango test's own `paginate`): a walk of
   * `nango.paginate(config)` answered page by page. The first step carries the script's config
   * (as JSON: its `on_page` becomes `onPage: true`) and answers `inScript` when the script's own
   * paginate should walk after all; the next carry the walk's id (`close`: the script stopped).
   */
  paginate?(step: PaginateStep): Promise<PaginateAnswer>;
}

export type PaginateStep = { config: Record<string, unknown>; onPage: boolean } | { walk: string; close?: boolean };
/** A page of a walk (`done`: none, the walk ended), with the `on_page` calls made before it, in order. */
export type PaginateAnswer = { inScript: true } | { walk: string; done: boolean; page?: unknown; onPage: unknown[] };

/** A page of listRecords. */
export interface RecordsPage {
  records: Array<Record<string, unknown>>;
  next: string | null;
}

/** Records per listRecords page a worker asks for. */
export const LIST_RECORDS_PAGE = 100;

/** At most this many parts per split pass (time windows or keys). */
export const MAX_PARTS = 1000;
/** A partition key's length cap, in characters: it is stored as the part's and its runs' key. */
export const MAX_PARTITION_KEY_CHARS = 256;

/**
 * What a key split's `partitions` function must return: distinct, non-empty keys without
 * control characters (they name parts in logs, the API and the dashboard), at most MAX_PARTS.
 * Duplicates are refused rather than dropped: they mean the listing the keys came from repeats
 * itself, and a silently shorter pass would hide that.
 */
export const PartitionKeysSchema = z.array(
  z.string({ error: 'a partition key is a string' })
    .min(1, 'a partition key may not be empty')
    .max(MAX_PARTITION_KEY_CHARS, `a partition key is at most ${MAX_PARTITION_KEY_CHARS} characters`)
    .regex(/^[^\u0000-\u001f\u007f]*$/, 'a partition key holds no control characters'),
  { error: 'split.partitions must return an array of strings' },
)
  // An empty list is an account with nothing to split (no mailboxes): a pass of zero parts.
  .max(MAX_PARTS, `split.partitions may return at most ${MAX_PARTS} keys`)
  .superRefine((keys, ctx) => {
    const seen = new Set<string>();
    for (const [i, key] of keys.entries()) {
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [i], message: `the key ${JSON.stringify(key)} is returned more than once: keys must be unique` });
      seen.add(key);
    }
  });

/** What evaluating a bundle's top level reveals about the script (read at deploy time). */
/** A declared model's name. "::" is refused: the host stores a sync variant's records under "<model>::<variant>". */
const ModelName = z.string().min(1).refine((name) => !name.includes('::'), { message: 'a model name may not contain "::"' });

export const ScriptManifestSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('sync'),
    description: z.string(),
    version: z.string().optional(),
    frequency: z.string(),
    syncType: z.enum(['full', 'incremental']).default('full'),
    autoStart: z.boolean().default(true),
    /** Full-refresh delete detection: unseen records are deleted when a full pass succeeds. */
    trackDeletes: z.boolean().default(false),
    /**
     * Holds a walk's deletes for review instead of applying them when they would remove every live
     * record of a model, or more than `maxShare` (0.5) once it has `minRecords` (200); false: off.
     */
    massDeleteGuard: z.union([z.literal(false), z.strictObject({
      maxShare: z.number().gt(0).max(1).optional(),
      minRecords: z.number().int().min(0).optional(),
    })]).optional(),
    /** Incremental syncs: every Nth run is a full refresh (catches deletes incremental APIs hide). */
    fullRefreshEvery: z.number().int().min(1).optional(),
    /** Incremental syncs: how far back a full read goes ("90 days"); absent = everything. */
    backfill: z.string().optional(),
    /** Retries of a failed run before waiting for the next scheduled one (default 3). */
    retries: z.number().int().min(0).max(20).optional(),
    /**
     * A full pass runs as parts in parallel: time windows `every` long from `from` (ISO date or a
     * duration back) to now, or one part per key the script's `split.partitions` returns (the
     * function stays in the bundle; the manifest only says which kind).
     */
    split: z.discriminatedUnion('by', [
      z.strictObject({ by: z.literal('time'), from: z.string().min(1), every: z.string().min(1) }),
      z.strictObject({ by: z.literal('keys') }),
    ]).optional(),
    models: z.array(ModelName).min(1),
    /** Provider webhook event types routed to `onWebhook` ('*' for all); absent when none. */
    webhookSubscriptions: z.array(z.string()).optional(),
    limits: DeclaredLimitsSchema.optional(),
  }),
  z.object({
    type: z.literal('action'),
    description: z.string(),
    version: z.string().optional(),
    /** Models the action may save (write-back the app sees at once); absent when none. */
    models: z.array(ModelName).optional(),
    limits: DeclaredLimitsSchema.optional(),
  }),
]);
export type ScriptManifest = z.infer<typeof ScriptManifestSchema>;

export interface Runtime {
  /** Runs one script in a fresh isolate inside a worker child process. Never throws for script faults. */
  run(job: RunJob, bridge: HostBridge, options?: { signal?: AbortSignal }): Promise<RunResult>;
  /** Evaluates a bundle's top level (under tight limits) and reads its definition. */
  describe(code: string): Promise<{ ok: true; manifest: ScriptManifest } | { ok: false; error: RunError }>;
  close(): Promise<void>;
}

/** How deep objects and arrays from a script or a request may nest (runtime/bounds.ts). */
export { MAX_DEPTH } from './bounds.ts';
