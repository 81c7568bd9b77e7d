/** The `ctx` object a script's `exec` receives, built for one run from its job. */
import { ActionError, type ActionContext, type ConnectionInfo, type SplitContext, type SyncContext } from '@ferry/sdk';
import type { ZodSchemaLike } from '@ferry/sdk';
import { DateCtor, ErrorCtor, StringCtor, defineProperty, isArray, keys, own, parse, stringIncludes, stringify } from './builtins.ts';
import { CAPS, checkSize, hostCall, sdkError } from './host.ts';
import { nangoLog } from './logs.ts';
import { nonFiniteReason } from './non-finite.ts';
import { createPaginate } from './paginate.ts';
import { proxy } from './proxy.ts';

/** What the prelude reads of a RunJob (runtime/contract.ts). */
export interface PreludeJob {
  kind: 'sync' | 'action' | 'webhook' | 'partitions';
  input?: unknown;
  context: {
    lastSyncDate: string | null;
    isFullRun: boolean;
    connection: ConnectionInfo;
    checkpoint: Record<string, unknown> | null;
    variant?: string;
    partition?: { key: string; from: string | null; to: string | null };
    paginationDefaults?: Record<string, unknown>;
    /** A test's frozen clock, ms since the epoch (clock.ts). */
    clock?: number;
    /** A Nango test's nango pages for the script (paginate.ts hostPaged). */
    hostPaginates?: boolean;
  };
}

/** What a bundle's default export holds, as far as the prelude trusts it (checked before use). */
export interface ScriptDefinition {
  type?: unknown;
  models?: Record<string, ZodSchemaLike & { partial?: () => ZodSchemaLike }>;
  input?: ZodSchemaLike;
  output?: ZodSchemaLike;
  exec?: (ctx: unknown, input?: unknown) => Promise<unknown>;
  onWebhook?: (ctx: unknown, payload: unknown) => Promise<unknown>;
  [key: string]: unknown;
}

type Issue = { path?: ReadonlyArray<PropertyKey>; message: string };

export function formatIssues(error: { issues?: ReadonlyArray<Issue> } | null | undefined): string {
  const issues = (error && error.issues) || [];
  const parts: string[] = [];
  for (let i = 0; i < issues.length && i < 10; i++) {
    const issue = issues[i]!;
    const path = issue.path && issue.path.length ? issue.path.map((p) => StringCtor(p)).join('.') : '(root)';
    parts.push(`${path}: ${issue.message}`);
  }
  const text = parts.length ? parts.join('; ') : 'invalid';
  return text.length > CAPS.rejectReasonChars ? text.slice(0, CAPS.rejectReasonChars) : text;
}

/**
 * Sends metadata or a checkpoint (`value`, inside `payload`) to the host. A NaN or ±Infinity in it
 * fails the call, as it rejects a record: JSON would store null in its place (it did, silently).
 */
async function setState(op: string, payload: unknown, value: unknown, what: string): Promise<void> {
  const text = stringify(payload);
  checkSize(text, CAPS.stateBytes, what);
  const nonFinite = stringIncludes.call(text, 'null') ? nonFiniteReason(value) : null;
  if (nonFinite !== null) throw sdkError('INVALID_ARGUMENT', `${what}: ${nonFinite}`);
  await hostCall(op, text);
}

const copy = <T>(value: T): T => parse(stringify(value));

const CREDENTIALS_MESSAGE =
  "getConnection().credentials: a Ferry script never sees the connection's credentials. The host's proxy adds them to each request: call the provider with nango.get/post/put/patch/delete or nango.proxy, and put other settings in connection metadata or connection_config";

/**
 * Nango scripts read `connection.credentials` (an API key, a token to sign with). Reading it
 * throws, naming why and what to do, rather than giving undefined for the script to trip over
 * later; not enumerable, so spreading or serialising the connection still works.
 */
function withoutCredentials<T extends object>(connection: T): T {
  return defineProperty(connection, 'credentials', {
    enumerable: false,
    get() {
      throw new ErrorCtor(CREDENTIALS_MESSAGE);
    },
  });
}

export function buildContext(job: PreludeJob, definition: ScriptDefinition): ActionContext | SyncContext {
  const connection = job.context.connection;
  let checkpoint = job.context.checkpoint;
  const models = definition.models || {};

  function declaredModel(model: unknown): string {
    if (typeof model !== 'string' || !own(models, model)) {
      throw sdkError('UNKNOWN_MODEL', `Unknown model "${StringCtor(model)}": this ${StringCtor(definition.type)} declares ${keys(models).join(', ') || 'no models'}`);
    }
    return model;
  }

  const actionContext: ActionContext = {
    connectionId: connection.connection_id,
    providerConfigKey: connection.provider,
    provider: connection.provider,
    proxy,
    get: (config) => proxy({ ...config, method: 'GET' }),
    post: (config) => proxy({ ...config, method: 'POST' }),
    put: (config) => proxy({ ...config, method: 'PUT' }),
    patch: (config) => proxy({ ...config, method: 'PATCH' }),
    delete: (config) => proxy({ ...config, method: 'DELETE' }),
    paginate: createPaginate(job.context.paginationDefaults, job.context.hostPaginates === true),
    // Nango's shape; credentials never reach a script (the host's proxy adds them to requests).
    getConnection: async () => withoutCredentials({ ...copy(connection), provider_config_key: connection.provider }),
    getMetadata: async () => parse(await hostCall('getMetadata', '')),
    setMetadata: (metadata) => setState('setMetadata', { metadata, merge: false }, metadata, 'metadata'),
    updateMetadata: (metadata) => setState('setMetadata', { metadata, merge: true }, metadata, 'metadata'),
    log: nangoLog,
    // Nango scripts throw `new nango.ActionError({...})`: the SDK's own class, recognised by its code.
    ActionError,
    zodValidateInput: async ({ zodSchema, input }) => {
      const parsed = zodSchema.safeParse(input);
      if (parsed.success) return parsed;
      for (const issue of parsed.error.issues) nangoLog(`Invalid input provided: ${issue.path.map((p) => StringCtor(p)).join('.') || '(root)'}: ${issue.message}`, { level: 'error' });
      throw new ActionError({ message: 'Invalid input provided', issues: formatIssues(parsed.error) });
    },
  };

  async function batch(op: 'save' | 'update' | 'delete', records: unknown, model: unknown): Promise<boolean> {
    if (!isArray(records)) throw sdkError('INVALID_ARGUMENT', `batch${op[0]!.toUpperCase()}${op.slice(1)}: records must be an array`);
    const schema = models[declaredModel(model)];
    let validator: ZodSchemaLike | null = null;
    if (op === 'save') validator = schema ?? null;
    else if (op === 'update' && schema && typeof schema.partial === 'function') validator = schema.partial();
    // One line per valid record, `<its id as read here, JSON>\t<record JSON>\n`, built by string
    // concatenation (no array method a script could replace): the worker hashes and forwards each
    // record's text as it is, parsing it only when its id is not its first key (records.ts).
    // JSON.stringify emits no raw tab or newline.
    let text = '';
    let count = 0;
    const rejected: Array<{ id: string | null; reason: string }> = [];
    let rejectedCount = 0;
    for (let i = 0; i < records.length; i++) {
      const record: unknown = records[i];
      const id = record !== null && typeof record === 'object' ? (record as { id?: unknown }).id : undefined;
      const idText = typeof id === 'string' || typeof id === 'number' ? StringCtor(id) : null;
      let reason: string | null = null;
      let json: unknown = undefined;
      if (idText === null) reason = 'id: a record needs a string or number id';
      else if (validator && typeof validator.safeParse === 'function') {
        const result = validator.safeParse(record);
        if (!result.success) reason = formatIssues(result.error);
      }
      if (reason === null) {
        const written = op === 'delete' ? { id } : record;
        json = stringify(written);
        // A toJSON may turn a record into something else: only an object is a record.
        if (typeof json !== 'string' || json[0] !== '{') reason = 'a record must serialise to a JSON object';
        // JSON writes NaN and ±Infinity as null: only a record whose text holds a null can hide one.
        else if (stringIncludes.call(json, 'null')) reason = nonFiniteReason(written);
      }
      if (reason !== null) {
        rejectedCount++;
        if (rejected.length < CAPS.rejectedPerBatch) rejected.push({ id: idText, reason });
        continue;
      }
      text += stringify(id) + '\t' + (json as string) + '\n';
      count++;
    }
    checkSize(text, CAPS.batchBytes, `batch of ${count} ${StringCtor(model)} records`);
    await hostCall('batch', stringify({ op, model, rejected, rejectedCount }), text);
    return true;
  }

  const recordWriters = {
    batchSave: (records: unknown, model: unknown) => batch('save', records, model),
    batchUpdate: (records: unknown, model: unknown) => batch('update', records, model),
    batchDelete: (records: unknown, model: unknown) => batch('delete', records, model),
  };
  // An action writes only the models it declares (`models` in createAction).
  if (job.kind === 'action') return { ...actionContext, ...recordWriters } as ActionContext;
  // A key split's partitions function lists what to read: it reads the provider, writes nothing.
  if (job.kind === 'partitions') {
    const splitContext: SplitContext = { ...actionContext, lastSyncDate: null, isFullRun: true, variant: job.context.variant ?? 'base' };
    return splitContext as unknown as ActionContext;
  }

  async function trackDeletes(model: unknown, phase: 'start' | 'end'): Promise<void> {
    await hostCall('trackDeletes', declaredModel(model), phase);
  }

  /** Every live record of the model the host holds, a page per host call, one at a time (Nango's `for await … of nango.listRecords(model)`). */
  async function* listRecords(model: unknown): AsyncGenerator<any> {
    const name = declaredModel(model);
    let cursor = '';
    for (;;) {
      const page = parse(await hostCall('listRecords', name, cursor)) as { records: unknown[]; next: string | null };
      for (let i = 0; i < page.records.length; i++) yield page.records[i];
      if (page.next === null) return;
      cursor = page.next;
    }
  }

  const syncContext: SyncContext = {
    ...actionContext,
    ...recordWriters,
    lastSyncDate: job.context.lastSyncDate ? new DateCtor(job.context.lastSyncDate) : null,
    isFullRun: job.context.isFullRun,
    variant: job.context.variant ?? 'base',
    partition: job.context.partition ? {
      key: job.context.partition.key,
      from: job.context.partition.from === null ? null : new DateCtor(job.context.partition.from),
      to: job.context.partition.to === null ? null : new DateCtor(job.context.partition.to),
    } : null,
    getCheckpoint: async () => (checkpoint == null ? null : copy(checkpoint)) as never,
    saveCheckpoint: async (value) => {
      await setState('saveCheckpoint', value, value, 'checkpoint');
      checkpoint = copy(value);
    },
    clearCheckpoint: async () => {
      await setState('saveCheckpoint', null, null, 'checkpoint');
      checkpoint = null;
    },
    trackDeletesStart: (model) => trackDeletes(model, 'start'),
    trackDeletesEnd: (model) => trackDeletes(model, 'end'),
    listRecords: listRecords as SyncContext['listRecords'],
  };
  return syncContext;
}
