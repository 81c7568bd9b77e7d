/** The prelude's entry points, called by the worker and never reachable by the script. */
import { PromiseCtor, StringCtor, TypeErrorCtor, global, isArray, keys, parse, stringify } from './builtins.ts';
import { buildContext, formatIssues, type PreludeJob, type ScriptDefinition } from './context.ts';
import { freezeClock } from './clock.ts';
import { CAPS, endRun, handedOver, sdkError } from './host.ts';
import { clearAllTimers, fatalErrors } from './timers.ts';

function read(object: unknown, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function jsonSafe(value: unknown): unknown {
  try {
    const text = stringify(value);
    if (text === undefined || text.length > CAPS.stateBytes) return undefined;
    return parse(text);
  } catch {
    return undefined;
  }
}

interface DescribedError {
  code: string;
  message: string;
  stack?: string;
  type?: string;
  payload?: unknown;
  retryAfterMs?: number;
}

/**
 * A script's value as text. Turning it into text runs the script's code (a Proxy's traps, a
 * getter, toString), which may throw: that must not turn the script's failure into ours.
 */
function text(value: unknown, fallback: string): string {
  try {
    return StringCtor(value);
  } catch {
    return fallback;
  }
}

const UNREADABLE = 'the script threw a value that cannot be read as text (its message or toString throws)';

/** Errors come back as data: the worker never touches a script's error object. */
function describeError(error: unknown): DescribedError {
  const isObject = error !== null && (typeof error === 'object' || typeof error === 'function');
  const message = isObject ? text(read(error, 'message') ?? error, UNREADABLE) : text(error, UNREADABLE);
  const stack = isObject ? read(error, 'stack') : undefined;
  const out: DescribedError = { code: 'SCRIPT_ERROR', message };
  if (typeof stack === 'string') out.stack = stack;
  if (!isObject) return out;
  const ferryCode = read(error, '__ferryError');
  const sdkCode = read(error, '__ferrySdkError');
  if (typeof ferryCode === 'string') {
    out.code = ferryCode;
    if (ferryCode === 'ACTION_ERROR') {
      out.type = text(read(error, 'type') ?? 'action_error', 'action_error');
      const payload = jsonSafe(read(error, 'payload'));
      if (payload !== undefined) out.payload = payload;
    }
  } else if (typeof sdkCode === 'string') out.code = sdkCode;
  if (out.code === 'RETRY_AFTER') {
    try {
      out.retryAfterMs = Number(read(error, 'retryAfterMs')) || 0;
    } catch {
      out.retryAfterMs = 0; // a valueOf that throws
    }
  }
  return out;
}

const failure = (code: string, message: string): string => stringify({ ok: false, error: { code, message } });

function isTypeError(error: unknown): boolean {
  try {
    return error instanceof TypeErrorCtor;
  } catch {
    return false;
  }
}

/**
 * What a script returns as JSON text, or the INVALID_OUTPUT envelope saying why it is not JSON:
 * a function or symbol (JSON.stringify gives undefined), a cycle or a BigInt (a TypeError). What
 * else the script's own code throws while serialising (a getter, toJSON) stays its error.
 */
function outputJson(value: unknown, what: string): { json: string } | { failed: string } {
  let json: string | undefined;
  try {
    json = value === undefined ? 'null' : stringify(value);
  } catch (error) {
    if (!isTypeError(error)) throw error;
    return { failed: failure('INVALID_OUTPUT', `${what} cannot be sent as JSON: ${text(read(error, 'message'), 'it holds a cycle or a BigInt')}`) };
  }
  if (json === undefined) return { failed: failure('INVALID_OUTPUT', `${what} is a ${typeof value}: it must be a JSON value (an object, array, string, number, boolean or null)`) };
  return { json };
}

/**
 * The run's answer for an output value (an action's output, a key split's keys): its JSON, or
 * the failure that names `what` it is when it is no JSON value or `sized` (e.g. "action output
 * is") more characters than the output cap.
 */
function outputEnvelope(value: unknown, what: string, sized: string): string {
  const serialised = outputJson(value, what);
  if ('failed' in serialised) return serialised.failed;
  const { json } = serialised;
  if (json.length > CAPS.actionOutputBytes) {
    return stringify({ ok: false, error: { code: 'OUTPUT_SIZE', message: `${sized} ${json.length} characters, over the ${CAPS.actionOutputBytes} cap`, limit: CAPS.actionOutputBytes, used: json.length } });
  }
  return stringify({ ok: true, output: json });
}

function loadDefinition(): ScriptDefinition {
  const mod = global['__ferry_module'] as { default?: unknown } | undefined;
  const definition = mod && typeof mod === 'object' ? mod.default : undefined;
  if (!definition || typeof definition !== 'object') {
    throw sdkError('BAD_SCRIPT', 'the bundle has no default export (expected `export default createSync(...)` or `createAction(...)`)');
  }
  return definition as ScriptDefinition;
}

export async function run(jobJson: string): Promise<string> {
  try {
    const job = parse(jobJson) as PreludeJob;
    const definition = loadDefinition();
    if (typeof job.context.clock === 'number') freezeClock(job.context.clock);
    if (job.kind === 'partitions') return await partitions(job, definition);
    const { exec, onWebhook } = definition;
    if (typeof exec !== 'function') return failure('BAD_SCRIPT', 'the script definition has no exec function');
    const expectedType = job.kind === 'webhook' ? 'sync' : job.kind;
    if (definition.type !== expectedType) return failure('BAD_SCRIPT', `the script is a ${StringCtor(definition.type)} but was run as a ${job.kind}`);
    if (job.kind === 'webhook' && typeof onWebhook !== 'function') return failure('BAD_SCRIPT', 'the sync has no onWebhook function');
    const ctx = buildContext(job, definition);
    const failed = fatalErrors();

    if (job.kind === 'sync') {
      await PromiseCtor.race([exec.call(definition, ctx), failed]);
      return stringify({ ok: true, output: 'null' });
    }
    if (job.kind === 'webhook') {
      await PromiseCtor.race([onWebhook!.call(definition, ctx, job.input), failed]);
      return stringify({ ok: true, output: 'null' });
    }

    let input = job.input;
    if (definition.input && typeof definition.input.safeParse === 'function') {
      const parsed = definition.input.safeParse(input);
      if (!parsed.success) return failure('INVALID_INPUT', `invalid input: ${formatIssues(parsed.error)}`);
      input = parsed.data;
    }
    let output = await PromiseCtor.race([exec.call(definition, ctx, input), failed]);
    if (definition.output && typeof definition.output.safeParse === 'function') {
      const parsed = definition.output.safeParse(output);
      if (!parsed.success) return failure('INVALID_OUTPUT', `invalid output: ${formatIssues(parsed.error)}`);
      output = parsed.data;
    }
    return outputEnvelope(output, "the action's output", 'action output is');
  } catch (error) {
    return stringify({ ok: false, error: describeError(error) });
  } finally {
    endRun();
    clearAllTimers();
    // New calls are refused from here, but those the script made in time and that still wait
    // for a turn (un-awaited batchSave calls) reach the worker, which waits for them in turn.
    // Only then a tick later: a run with nothing waiting settles in the same task as before.
    const waiting = handedOver();
    if (waiting) await waiting;
  }
}

/**
 * A key split's `split.partitions(ctx)`, alone: its keys are the output, checked by the worker
 * (PartitionKeysSchema) before anything trusts them.
 */
async function partitions(job: PreludeJob, definition: ScriptDefinition): Promise<string> {
  if (definition.type !== 'sync') return failure('BAD_SCRIPT', `the script is a ${StringCtor(definition.type)}: only a sync splits by keys`);
  const split = read(definition, 'split');
  const fn = read(split, 'partitions');
  if (read(split, 'by') !== 'keys' || typeof fn !== 'function') return failure('BAD_SCRIPT', "the sync's split is not { by: 'keys', partitions: async (nango) => [...] }");
  const ctx = buildContext(job, definition);
  const keys = await PromiseCtor.race([(fn as (ctx: unknown) => Promise<unknown>).call(split, ctx), fatalErrors()]);
  return outputEnvelope(keys, 'what split.partitions returned', 'split.partitions returned');
}

/** What the manifest says of a split: a time split's settings; of a key split only its kind (the function stays in the bundle). */
function describeSplit(split: unknown): unknown {
  if (split === undefined || read(split, 'by') !== 'keys') return split;
  if (typeof read(split, 'partitions') !== 'function') throw sdkError('BAD_SCRIPT', "split: { by: 'keys' } needs partitions: an async function (nango) returning the partition keys");
  return { by: 'keys' };
}

export function describe(): string {
  try {
    const d = loadDefinition();
    const manifest: Record<string, unknown> = { type: d.type, description: d.description, version: d.version, limits: d.limits };
    if (d.type === 'sync') {
      manifest.frequency = d.frequency;
      manifest.syncType = d.syncType;
      manifest.autoStart = d.autoStart;
      manifest.trackDeletes = d.trackDeletes;
      manifest.massDeleteGuard = d.massDeleteGuard;
      manifest.fullRefreshEvery = d.fullRefreshEvery;
      manifest.backfill = d.backfill;
      manifest.retries = d.retries;
      manifest.split = describeSplit(d.split);
      manifest.models = d.models && typeof d.models === 'object' ? keys(d.models) : [];
      if (isArray(d.webhookSubscriptions)) manifest.webhookSubscriptions = d.webhookSubscriptions.map((e: unknown) => StringCtor(e));
    } else if (d.models && typeof d.models === 'object') {
      manifest.models = keys(d.models);
    }
    return stringify({ ok: true, manifest: jsonSafe(manifest) });
  } catch (error) {
    return stringify({ ok: false, error: describeError(error) });
  }
}
