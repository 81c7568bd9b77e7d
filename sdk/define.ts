import type { ActionContext, SplitContext, SyncContext } from './context.ts';
import type { Infer, ModelMap, ZodSchemaLike } from './types.ts';

type ModelsOf<M extends ModelMap> = { [K in keyof M]: Infer<M[K]> };
/** What a `metadata` or `checkpoint` schema describes; any record when the script gives none. */
type StateOf<S> = S extends ZodSchemaLike<infer T> ? T : Record<string, any>;
type OptionalSchema = ZodSchemaLike | undefined;

export interface SyncDefinition<M extends ModelMap = ModelMap, Meta extends OptionalSchema = undefined, C extends OptionalSchema = undefined> {
  type: 'sync';
  description: string;
  version?: string;
  /** "every 30 minutes", "every hour", "every day"… */
  frequency: string;
  syncType?: 'full' | 'incremental';
  autoStart?: boolean;
  /**
   * Full refresh only: records a successful full run did not save are marked deleted (as in Nango).
   * Without it a full run deletes nothing; incremental syncs use batchDelete or trackDeletesStart/End.
   */
  trackDeletes?: boolean;
  /**
   * Deletes that would remove every live record of a model, or more than `maxShare` (default 0.5)
   * of one with at least `minRecords` (default 200), are held for review instead of applied
   * (POST /syncs/:name/held-deletes/apply or discard). `false` turns the guard off.
   */
  massDeleteGuard?: false | { maxShare?: number; minRecords?: number };
  /** Incremental syncs: make every Nth run a full refresh, to catch deletes the API hides. */
  fullRefreshEvery?: number;
  /** Incremental syncs: how far back a full read goes, e.g. "90 days" (lastSyncDate = now - backfill). */
  backfill?: string;
  /** Retries (exponential backoff with jitter) of a failed run; default 3. */
  retries?: number;
  /**
   * Split a full pass (the first sync, a full refresh) into parts run in parallel across the
   * workers: time windows `every` long from `from` (an ISO date, or a duration back from now such
   * as "2 years") to now, or one part per key `partitions` returns (repos, mailboxes, folders:
   * distinct non-empty strings, at most 1,000, 256 characters each). Each part reads
   * `nango.partition` ({ key, from, to }), has its own checkpoint and retries; the pass succeeds
   * once every part has.
   */
  split?:
    | { by: 'time'; from: string; every: string }
    | { by: 'keys'; partitions: (ctx: SplitContext<StateOf<Meta>>) => Promise<string[]> };
  endpoints?: ReadonlyArray<{ method: string; path: string; group?: string }>;
  models: M;
  /** The connection metadata's schema: types getMetadata/setMetadata. */
  metadata?: Meta;
  /** The checkpoint's schema (as in Nango): types getCheckpoint/saveCheckpoint. */
  checkpoint?: C;
  /** OAuth scopes the sync needs (informational, as in Nango). */
  scopes?: string[];
  /** Per-run limits; the host's defaults apply where absent. */
  limits?: { memoryMb?: number; wallTimeMs?: number; cpuTimeMs?: number };
  exec: (ctx: SyncContext<ModelsOf<M>, StateOf<Meta>, StateOf<C>>) => Promise<void>;
  /** Provider webhook event types handled by `onWebhook` ('*' for every event). */
  webhookSubscriptions?: string[];
  /** Runs with the sync's context for each incoming webhook of a subscribed type, for the connection it names. */
  onWebhook?: (ctx: SyncContext<ModelsOf<M>, StateOf<Meta>, StateOf<C>>, payload: any) => Promise<void>;
}

/** What an action's `exec` receives: the action context, plus record writes for the models it declares. */
export type ActionContextWith<M extends ModelMap, Meta = Record<string, any>> = ActionContext<Meta> & Pick<SyncContext<ModelsOf<M>>, 'batchSave' | 'batchUpdate' | 'batchDelete'>;

export interface ActionDefinition<I extends ZodSchemaLike = ZodSchemaLike, O extends ZodSchemaLike = ZodSchemaLike, M extends ModelMap = ModelMap, Meta extends OptionalSchema = undefined> {
  type: 'action';
  description: string;
  version?: string;
  endpoint?: { method: string; path: string; group?: string };
  input: I;
  output: O;
  scopes?: string[];
  /** Models the action may save or update, so the app sees its write-back at once. */
  models?: M;
  /** The connection metadata's schema: types getMetadata. */
  metadata?: Meta;
  limits?: { memoryMb?: number; wallTimeMs?: number; cpuTimeMs?: number };
  exec: (ctx: ActionContextWith<M, StateOf<Meta>>, input: Infer<I>) => Promise<Infer<O>>;
}

export function createSync<M extends ModelMap, Meta extends OptionalSchema = undefined, C extends OptionalSchema = undefined>(
  definition: Omit<SyncDefinition<M, Meta, C>, 'type'>,
): SyncDefinition<M, Meta, C> {
  return { ...definition, type: 'sync' };
}

export function createAction<I extends ZodSchemaLike, O extends ZodSchemaLike, M extends ModelMap = {}, Meta extends OptionalSchema = undefined>(
  definition: Omit<ActionDefinition<I, O, M, Meta>, 'type'>,
): ActionDefinition<I, O, M, Meta> {
  return { ...definition, type: 'action' };
}
