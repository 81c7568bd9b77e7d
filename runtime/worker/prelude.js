// The in-isolate SDK: the body of a function (see isolates.ts) the worker calls in each run's
// context before the script's bundle, with:
//   $0 send(id, op, a, b)  host callback (ignored mode): asks the worker to do `op`; the worker
//                          answers later through `deliver(id, ok, value)`.
//   $1 log(level, message) host callback (ignored mode).
//   $2 caps                JSON text of runtime/caps.ts.
// Both callbacks stay in this closure: nothing isolated-vm is ever put on the global object.
// Returns { deliver, run, describe }; the worker holds References to them, the script cannot.
// Everything crossing is a string or a primitive. Built-ins are captured now, before the
// script's top level can replace them.
const send = $0;
const hostLog = $1;
const global = globalThis;
const stringify = JSON.stringify;
const parse = JSON.parse;
const { keys, defineProperty } = Object;
const hasOwn = Object.prototype.hasOwnProperty;
const isArray = Array.isArray;
const PromiseCtor = Promise;
const ErrorCtor = Error;
const MapCtor = Map;
const StringCtor = String;
const DateCtor = Date;
const CAPS = parse($2);
// WebAssembly memory is allocated outside isolated-vm's memory limit (ArrayBuffers are counted,
// wasm memories are not), so scripts get no WebAssembly: it cannot be bounded.
delete global.WebAssembly;
// The worker child runs with --expose-gc so it can collect warm isolates between runs: a script
// gets no `gc` (a forced full collection on demand is a way to burn the host's time). V8 makes
// the binding non-configurable, so it is overwritten and frozen rather than deleted.
if (hasOwn.call(global, 'gc')) defineProperty(global, 'gc', { value: undefined, writable: false });

const own = (object, key) => object != null && hasOwn.call(object, key);

// ---- calls to the worker -------------------------------------------------------------------
let nextCallId = 0;
const pending = new MapCtor();
// Set when `run` settles: whatever the script left behind (timers, un-awaited promises,
// finalizers) is refused from then on, and the worker refuses it too.
let ended = false;

function hostCall(op, a, b) {
  if (ended) return PromiseCtor.reject(sdkError('RUN_ENDED', 'the run has ended: host calls are refused'));
  return new PromiseCtor((resolve, reject) => {
    const id = ++nextCallId;
    pending.set(id, { resolve, reject });
    send(id, op, a, b === undefined ? '' : b);
  });
}

function deliver(id, ok, value) {
  const entry = pending.get(id);
  if (!entry) return;
  pending.delete(id);
  if (ok) {
    entry.resolve(value);
    return;
  }
  let detail;
  try {
    detail = parse(value);
  } catch {
    detail = { code: 'BRIDGE_ERROR', message: StringCtor(value) };
  }
  const error = sdkError(detail.code || 'BRIDGE_ERROR', detail.message || 'host call failed');
  if (typeof detail.retryAfterMs === 'number') error.retryAfterMs = detail.retryAfterMs;
  entry.reject(error);
}

/** An error the SDK raises; if the script lets it escape, the run fails with kind 'sdk' and this code. */
function sdkError(code, message) {
  const error = new ErrorCtor(message);
  defineProperty(error, '__ferrySdkError', { value: code, enumerable: false });
  defineProperty(error, 'code', { value: code, enumerable: false, writable: true, configurable: true });
  return error;
}

// ---- logs ----------------------------------------------------------------------------------
function safeStringify(value) {
  try {
    const text = stringify(value);
    return text === undefined ? StringCtor(value) : text;
  } catch {
    try {
      return StringCtor(value);
    } catch {
      return '[unprintable]';
    }
  }
}

function formatArgs(args) {
  let line = '';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    let text;
    if (typeof arg === 'string') text = arg;
    else if (arg instanceof ErrorCtor) text = arg.stack || StringCtor(arg);
    else text = safeStringify(arg);
    line += (i === 0 ? '' : ' ') + text;
    if (line.length > CAPS.logLineChars) break;
  }
  return line;
}

function emit(level, args) {
  if (ended) return;
  const line = formatArgs(args);
  hostLog(level, line.length > CAPS.logLineChars ? line.slice(0, CAPS.logLineChars) : line);
}

const LEVELS = { debug: 'debug', info: 'info', warn: 'warn', error: 'error' };

/** Nango style: `log('msg', { level: 'warn' })`; the trailing `{ level }` option is not printed. */
function nangoLog(...args) {
  let level = 'info';
  const last = args[args.length - 1];
  if (args.length > 1 && last !== null && typeof last === 'object' && !isArray(last) && own(last, 'level') && keys(last).length === 1) {
    level = LEVELS[last.level] || 'info';
    args.pop();
  }
  emit(level, args);
}

const consoleObject = {
  log: (...args) => emit('info', args),
  info: (...args) => emit('info', args),
  warn: (...args) => emit('warn', args),
  error: (...args) => emit('error', args),
  debug: (...args) => emit('debug', args),
  trace: (...args) => emit('debug', args),
};
defineProperty(global, 'console', { value: consoleObject, writable: true, configurable: true, enumerable: false });

// ---- timers ----------------------------------------------------------------------------------
// Each timer is a `sleep` on the worker; clearing only forgets it here. They all die with the
// isolate. An exception thrown by a timer callback fails the run, as it would crash a process.
let nextTimerId = 0;
const timers = new MapCtor();
let fatal = null;
let onFatal = null;

function failRun(error) {
  if (fatal) return;
  fatal = { error };
  if (onFatal) onFatal(error);
}

function toDelay(ms) {
  const n = Number(ms);
  return n > 0 && n < 2 ** 31 ? n : 0;
}

function armTimer(id, delay) {
  hostCall('sleep', StringCtor(delay)).then(
    () => {
      const timer = timers.get(id);
      if (!timer || ended) return;
      if (!timer.repeat) timers.delete(id);
      try {
        timer.fn(...timer.args);
      } catch (error) {
        failRun(error);
      }
      if (timer.repeat && timers.has(id)) armTimer(id, delay);
    },
    (error) => failRun(error),
  );
}

function addTimer(fn, ms, args, repeat) {
  if (typeof fn !== 'function') throw new TypeError('The "callback" argument must be of type function');
  const id = ++nextTimerId;
  timers.set(id, { fn, args, repeat });
  armTimer(id, toDelay(ms));
  return id;
}

const clearTimer = (id) => {
  timers.delete(id);
};
const timerGlobals = {
  setTimeout: (fn, ms, ...args) => addTimer(fn, ms, args, false),
  setInterval: (fn, ms, ...args) => addTimer(fn, ms, args, true),
  clearTimeout: clearTimer,
  clearInterval: clearTimer,
  queueMicrotask: (fn) => {
    PromiseCtor.resolve().then(() => {
      try {
        fn();
      } catch (error) {
        failRun(error);
      }
    });
  },
};
for (const name of keys(timerGlobals)) {
  defineProperty(global, name, { value: timerGlobals[name], writable: true, configurable: true, enumerable: false });
}

// A finalizer may run after its run ended (a warm isolate collects later): it runs nothing then.
const FinalizationRegistryCtor = global.FinalizationRegistry;
if (typeof FinalizationRegistryCtor === 'function') {
  const RunScopedFinalizationRegistry = class FinalizationRegistry extends FinalizationRegistryCtor {
    constructor(cleanup) {
      if (typeof cleanup !== 'function') throw new TypeError('FinalizationRegistry: cleanup must be callable');
      super((held) => {
        if (!ended) cleanup(held);
      });
    }
  };
  defineProperty(global, 'FinalizationRegistry', { value: RunScopedFinalizationRegistry, writable: true, configurable: true, enumerable: false });
}

// ---- memory ----------------------------------------------------------------------------------
// isolated-vm refuses an ArrayBuffer past the memory limit with a catchable RangeError and looks
// again only when the script yields, so a script catching refusals in a loop would run full GCs
// for seconds. The first refusal tells the worker (which ends the run with MEMORY), and later
// allocations through these constructors fail at once.
let memoryRefused = false;
const ReflectConstruct = Reflect.construct;
const RangeErrorCtor = RangeError;
for (const name of ['ArrayBuffer', 'SharedArrayBuffer', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array']) {
  const target = global[name];
  if (typeof target !== 'function') continue;
  const guarded = new Proxy(target, {
    construct(ctor, args, newTarget) {
      if (memoryRefused) throw new RangeErrorCtor('Array buffer allocation failed');
      try {
        return ReflectConstruct(ctor, args, newTarget === guarded ? ctor : newTarget);
      } catch (error) {
        if (error instanceof RangeErrorCtor && error.message === 'Array buffer allocation failed') {
          memoryRefused = true;
          hostLog('__memory', '');
        }
        throw error;
      }
    },
  });
  defineProperty(global, name, { value: guarded, writable: true, configurable: true, enumerable: false });
}

// ---- helpers -------------------------------------------------------------------------------
function formatIssues(error) {
  const issues = (error && error.issues) || [];
  const parts = [];
  for (let i = 0; i < issues.length && i < 10; i++) {
    const issue = issues[i];
    const path = issue.path && issue.path.length ? issue.path.map((p) => StringCtor(p)).join('.') : '(root)';
    parts.push(`${path}: ${issue.message}`);
  }
  const text = parts.length ? parts.join('; ') : 'invalid';
  return text.length > CAPS.rejectReasonChars ? text.slice(0, CAPS.rejectReasonChars) : text;
}

function getPath(value, path) {
  if (!path) return value;
  let current = value;
  for (const part of path.split('.')) {
    if (current == null) return undefined;
    current = current[part];
  }
  return current;
}

function checkSize(text, cap, what) {
  if (text.length > cap) throw sdkError('PAYLOAD_TOO_LARGE', `${what} is ${text.length} characters, over the ${cap} cap`);
}

function parseQuery(text) {
  const out = {};
  for (const pair of StringCtor(text).replace(/^\?/, '').split('&')) {
    if (!pair) continue;
    const at = pair.indexOf('=');
    const k = decodeURIComponent(at < 0 ? pair : pair.slice(0, at));
    out[k] = at < 0 ? '' : decodeURIComponent(pair.slice(at + 1));
  }
  return out;
}

function toParams(params) {
  if (params == null) return {};
  if (typeof params === 'string') return parseQuery(params);
  const out = {};
  for (const k of keys(params)) {
    const v = params[k];
    if (v !== undefined && v !== null) out[k] = StringCtor(v);
  }
  return out;
}

// ---- the context ---------------------------------------------------------------------------
function buildContext(job, definition) {
  const connection = job.context.connection;
  let checkpoint = job.context.checkpoint;

  function headerValue(headers, name) {
    for (const k of keys(headers)) if (k.toLowerCase() === name) return headers[k];
    return undefined;
  }

  function decodeBody(response, responseType) {
    const contentType = headerValue(response.headers, 'content-type') || '';
    if (responseType === 'text') return response.body;
    if (responseType === 'json' || /[/+]json\b/i.test(contentType)) {
      if (response.body === '') return '';
      try {
        return parse(response.body);
      } catch {
        return response.body;
      }
    }
    return response.body;
  }

  async function proxy(config) {
    if (!config || typeof config.endpoint !== 'string' || config.endpoint === '') {
      throw sdkError('INVALID_ARGUMENT', 'proxy: `endpoint` must be a non-empty string');
    }
    const method = StringCtor(config.method || 'GET').toUpperCase();
    const headers = {};
    if (config.headers) for (const k of keys(config.headers)) headers[k] = StringCtor(config.headers[k]);
    const request = { method, endpoint: config.endpoint, params: toParams(config.params), headers };
    if (config.data !== undefined) {
      if (typeof config.data === 'string') request.body = config.data;
      else {
        request.body = stringify(config.data);
        if (headerValue(headers, 'content-type') === undefined) headers['content-type'] = 'application/json';
      }
    }
    if (config.retries !== undefined) request.retries = config.retries;
    if (config.retryOn !== undefined) request.retryOn = config.retryOn;
    if (config.baseUrlOverride !== undefined) request.baseUrlOverride = config.baseUrlOverride;
    const text = stringify(request);
    checkSize(text, CAPS.proxyRequestBytes, 'proxy request');
    const raw = parse(await hostCall('proxy', text));
    const data = decodeBody(raw, config.responseType);
    const response = { status: raw.status, headers: raw.headers, data };
    if (raw.status >= 400) {
      const error = new ErrorCtor(`Request failed with status code ${raw.status} (${method} ${config.endpoint})`);
      error.status = raw.status;
      error.data = data;
      error.response = response;
      throw error;
    }
    return response;
  }

  const withMethod = (method) => (config) => proxy({ ...config, method });

  async function* paginate(config) {
    const settings = { ...(job.context.paginationDefaults || {}), ...(config.paginate || {}) };
    const type = settings.type;
    if (!['cursor', 'link', 'offset', 'page'].includes(type)) {
      throw sdkError('INVALID_ARGUMENT', 'paginate: `paginate.type` must be cursor, link, offset or page');
    }
    let request = { ...config, params: toParams(config.params) };
    if (settings.limit !== undefined && settings.limit_name_in_request) {
      request.params[settings.limit_name_in_request] = StringCtor(settings.limit);
    }
    let position = settings.offset_start_value !== undefined ? Number(settings.offset_start_value) : type === 'page' ? 1 : 0;
    if (type === 'offset' || type === 'page') {
      if (!settings.offset_name_in_request) throw sdkError('INVALID_ARGUMENT', 'paginate: `offset_name_in_request` is required');
      request.params[settings.offset_name_in_request] = StringCtor(position);
    }
    for (;;) {
      const response = await proxy(request);
      const found = getPath(response.data, settings.response_path);
      const page = isArray(found) ? found : [];
      if (page.length === 0) return;
      yield page;
      if (settings.limit !== undefined && page.length < Number(settings.limit) && type !== 'cursor' && type !== 'link') return;

      if (type === 'cursor') {
        const next = getPath(response.data, settings.cursor_path_in_response);
        if (next === undefined || next === null || next === '') return;
        request.params[settings.cursor_name_in_request || 'cursor'] = StringCtor(next);
      } else if (type === 'link') {
        const next = settings.link_path_in_response_body
          ? getPath(response.data, settings.link_path_in_response_body)
          : nextFromLinkHeader(headerValue(response.headers, 'link'));
        if (!next) return;
        // Only the path and query travel: the host always applies the provider's base URL.
        const match = /^https?:\/\/[^/?#]+(.*)$/i.exec(StringCtor(next));
        request = { ...request, endpoint: match ? match[1] || '/' : StringCtor(next), params: {} };
      } else {
        position += type === 'page' ? 1 : page.length;
        request.params[settings.offset_name_in_request] = StringCtor(position);
      }
    }
  }

  function nextFromLinkHeader(header) {
    if (!header) return undefined;
    for (const part of StringCtor(header).split(',')) {
      const match = /<([^>]*)>\s*;.*rel="?next"?/i.exec(part);
      if (match) return match[1];
    }
    return undefined;
  }

  async function setState(op, value, what) {
    const text = stringify(value);
    checkSize(text, CAPS.stateBytes, what);
    await hostCall(op, text);
  }

  const actionContext = {
    connectionId: connection.connection_id,
    providerConfigKey: connection.provider,
    provider: connection.provider,
    proxy,
    get: withMethod('GET'),
    post: withMethod('POST'),
    put: withMethod('PUT'),
    patch: withMethod('PATCH'),
    delete: withMethod('DELETE'),
    paginate,
    getConnection: async () => parse(stringify(connection)),
    getMetadata: async () => parse(await hostCall('getMetadata', '')),
    setMetadata: (metadata) => setState('setMetadata', { metadata, merge: false }, 'metadata'),
    updateMetadata: (metadata) => setState('setMetadata', { metadata, merge: true }, 'metadata'),
    log: nangoLog,
  };

  async function batch(op, records, model) {
    if (!isArray(records)) throw sdkError('INVALID_ARGUMENT', `batch${op[0].toUpperCase()}${op.slice(1)}: records must be an array`);
    const models = definition.models || {};
    if (typeof model !== 'string' || !own(models, model)) {
      throw sdkError('UNKNOWN_MODEL', `Unknown model "${StringCtor(model)}": this ${StringCtor(definition.type)} declares ${keys(models).join(', ') || 'no models'}`);
    }
    const schema = models[model];
    let validator = null;
    if (op === 'save') validator = schema;
    else if (op === 'update' && schema && typeof schema.partial === 'function') validator = schema.partial();
    const valid = [];
    const rejected = [];
    let rejectedCount = 0;
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      const id = record !== null && typeof record === 'object' ? record.id : undefined;
      const idText = typeof id === 'string' || typeof id === 'number' ? StringCtor(id) : null;
      let reason = null;
      if (idText === null) reason = 'id: a record needs a string or number id';
      else if (validator && typeof validator.safeParse === 'function') {
        const result = validator.safeParse(record);
        if (!result.success) reason = formatIssues(result.error);
      }
      if (reason !== null) {
        rejectedCount++;
        if (rejected.length < CAPS.rejectedPerBatch) rejected.push({ id: idText, reason });
        continue;
      }
      valid.push(op === 'delete' ? { id } : record);
    }
    const text = stringify(valid);
    checkSize(text, CAPS.batchBytes, `batch of ${valid.length} ${model} records`);
    await hostCall('batch', stringify({ op, model, rejected, rejectedCount }), text);
    return true;
  }

  const recordWriters = {
    batchSave: (records, model) => batch('save', records, model),
    batchUpdate: (records, model) => batch('update', records, model),
    batchDelete: (records, model) => batch('delete', records, model),
  };
  // An action writes only the models it declares (`models` in createAction).
  if (job.kind === 'action') return { ...actionContext, ...recordWriters };

  return {
    ...actionContext,
    ...recordWriters,
    lastSyncDate: job.context.lastSyncDate ? new DateCtor(job.context.lastSyncDate) : null,
    isFullRun: job.context.isFullRun,
    getCheckpoint: async () => (checkpoint == null ? null : parse(stringify(checkpoint))),
    saveCheckpoint: async (value) => {
      await setState('saveCheckpoint', value, 'checkpoint');
      checkpoint = parse(stringify(value));
    },
    clearCheckpoint: async () => {
      await setState('saveCheckpoint', null, 'checkpoint');
      checkpoint = null;
    },
    trackDeletesStart: (model) => trackDeletes(model, 'start'),
    trackDeletesEnd: (model) => trackDeletes(model, 'end'),
  };

  async function trackDeletes(model, phase) {
    const models = definition.models || {};
    if (typeof model !== 'string' || !own(models, model)) {
      throw sdkError('UNKNOWN_MODEL', `Unknown model "${StringCtor(model)}": this sync declares ${keys(models).join(', ') || 'no models'}`);
    }
    await hostCall('trackDeletes', model, phase);
  }
}

// ---- errors as data --------------------------------------------------------------------------
function read(object, key) {
  try {
    return object[key];
  } catch {
    return undefined;
  }
}

function jsonSafe(value) {
  try {
    const text = stringify(value);
    if (text === undefined || text.length > CAPS.stateBytes) return undefined;
    return parse(text);
  } catch {
    return undefined;
  }
}

function describeError(error) {
  const isObject = error !== null && (typeof error === 'object' || typeof error === 'function');
  const message = isObject ? StringCtor(read(error, 'message') ?? error) : StringCtor(error);
  const stack = isObject ? read(error, 'stack') : undefined;
  const out = { code: 'SCRIPT_ERROR', message };
  if (typeof stack === 'string') out.stack = stack;
  if (!isObject) return out;
  const ferryCode = read(error, '__ferryError');
  const sdkCode = read(error, '__ferrySdkError');
  if (typeof ferryCode === 'string') {
    out.code = ferryCode;
    if (ferryCode === 'ACTION_ERROR') {
      out.type = StringCtor(read(error, 'type') ?? 'action_error');
      const payload = jsonSafe(read(error, 'payload'));
      if (payload !== undefined) out.payload = payload;
    }
  } else if (typeof sdkCode === 'string') out.code = sdkCode;
  if (out.code === 'RETRY_AFTER') out.retryAfterMs = Number(read(error, 'retryAfterMs')) || 0;
  return out;
}

const failure = (code, message) => stringify({ ok: false, error: { code, message } });

function loadDefinition() {
  const mod = global.__ferry_module;
  const definition = mod && typeof mod === 'object' ? mod.default : undefined;
  if (!definition || typeof definition !== 'object') {
    throw sdkError('BAD_SCRIPT', 'the bundle has no default export (expected `export default createSync(...)` or `createAction(...)`)');
  }
  return definition;
}

// ---- entry points (called by the worker, never reachable by the script) ----------------------
async function run(jobJson) {
  try {
    const job = parse(jobJson);
    const definition = loadDefinition();
    if (typeof definition.exec !== 'function') return failure('BAD_SCRIPT', 'the script definition has no exec function');
    const expectedType = job.kind === 'webhook' ? 'sync' : job.kind;
    if (definition.type !== expectedType) return failure('BAD_SCRIPT', `the script is a ${StringCtor(definition.type)} but was run as a ${job.kind}`);
    if (job.kind === 'webhook' && typeof definition.onWebhook !== 'function') return failure('BAD_SCRIPT', 'the sync has no onWebhook function');
    const ctx = buildContext(job, definition);
    const failed = new PromiseCtor((_, reject) => {
      onFatal = reject;
      if (fatal) reject(fatal.error);
    });

    if (job.kind === 'sync') {
      await PromiseCtor.race([definition.exec(ctx), failed]);
      return stringify({ ok: true, output: 'null' });
    }
    if (job.kind === 'webhook') {
      await PromiseCtor.race([definition.onWebhook(ctx, job.input), failed]);
      return stringify({ ok: true, output: 'null' });
    }

    let input = job.input;
    if (definition.input && typeof definition.input.safeParse === 'function') {
      const parsed = definition.input.safeParse(input);
      if (!parsed.success) return failure('INVALID_INPUT', `invalid input: ${formatIssues(parsed.error)}`);
      input = parsed.data;
    }
    let output = await PromiseCtor.race([definition.exec(ctx, input), failed]);
    if (definition.output && typeof definition.output.safeParse === 'function') {
      const parsed = definition.output.safeParse(output);
      if (!parsed.success) return failure('INVALID_OUTPUT', `invalid output: ${formatIssues(parsed.error)}`);
      output = parsed.data;
    }
    const text = output === undefined ? 'null' : stringify(output);
    if (text.length > CAPS.actionOutputBytes) {
      return stringify({ ok: false, error: { code: 'OUTPUT_SIZE', message: `action output is ${text.length} characters, over the ${CAPS.actionOutputBytes} cap`, limit: CAPS.actionOutputBytes, used: text.length } });
    }
    return stringify({ ok: true, output: text });
  } catch (error) {
    return stringify({ ok: false, error: describeError(error) });
  } finally {
    ended = true;
    timers.clear();
  }
}

function describe() {
  try {
    const d = loadDefinition();
    const manifest = { type: d.type, description: d.description, version: d.version, limits: d.limits };
    if (d.type === 'sync') {
      manifest.frequency = d.frequency;
      manifest.syncType = d.syncType;
      manifest.autoStart = d.autoStart;
      manifest.trackDeletes = d.trackDeletes;
      manifest.massDeleteGuard = d.massDeleteGuard;
      manifest.fullRefreshEvery = d.fullRefreshEvery;
      manifest.backfill = d.backfill;
      manifest.retries = d.retries;
      manifest.models = d.models && typeof d.models === 'object' ? keys(d.models) : [];
      if (isArray(d.webhookSubscriptions)) manifest.webhookSubscriptions = d.webhookSubscriptions.map((e) => StringCtor(e));
    } else if (d.models && typeof d.models === 'object') {
      manifest.models = keys(d.models);
    }
    return stringify({ ok: true, manifest: jsonSafe(manifest) });
  } catch (error) {
    return stringify({ ok: false, error: describeError(error) });
  }
}

return { deliver, run, describe };
