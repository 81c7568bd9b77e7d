/**
 * One run (or one describe) in a fresh sandbox, with every outcome turned into data: the
 * script's envelope, a limit that stopped it, or a bundle that would not evaluate.
 */
import { z } from 'zod';
import { MAX_PARTS, PartitionKeysSchema, ScriptManifestSchema, type LogEntry, type RunError, type RunJobSchema } from '../contract.ts';
import type { BridgeCall, ChildResult } from '../ipc.ts';
import { CAPS } from '../caps.ts';
import { depthMessage, storableJsonText, storableText, tooDeepAt } from '../bounds.ts';
import { createHostCalls } from './host-calls.ts';
import { BundleCompileError, openSandbox, type Sandbox, type SandboxLimits } from './sandbox.ts';
import type { IsolateSource } from './isolates.ts';
import { DESCRIBE_LIMITS } from '../limits.ts';
import { scriptStackKib } from './stack-size.ts';

type Job = z.output<typeof RunJobSchema>;

export interface ExecuteDeps {
  callParent(call: BridgeCall): Promise<unknown>;
  emitLog(entry: LogEntry): void;
  emitHeap(peakBytes: number): void;
  isolates: IsolateSource;
  /**
   * A stopped isolate that has not let go after STOP_GRACE_MS (V8 honours termination only at
   * certain points: a loop of refused ArrayBuffer allocations runs full GCs for seconds). The
   * worker reports this result and replaces itself.
   */
  onStuck(result: ChildResult): void;
}

const STOP_GRACE_MS = 1_000;

export interface Execution {
  result: Promise<ChildResult>;
  abort(): void;
}

/** Which codes the in-isolate SDK may report, and whose fault each is. Anything else is the script's. */
const ENVELOPE_KINDS: Record<string, RunError['kind']> = {
  SCRIPT_ERROR: 'script',
  ACTION_ERROR: 'script',
  NON_RETRYABLE: 'script',
  RETRY_AFTER: 'script',
  INVALID_INPUT: 'sdk',
  INVALID_OUTPUT: 'sdk',
  UNKNOWN_MODEL: 'sdk',
  PAYLOAD_TOO_LARGE: 'sdk',
  BRIDGE_ERROR: 'sdk',
  BAD_SCRIPT: 'sdk',
  INVALID_ARGUMENT: 'sdk',
  OUTPUT_SIZE: 'limit',
  CONNECTION_REAUTH_REQUIRED: 'sdk',
};

const EnvelopeSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), output: z.string() }),
  z.object({
    ok: z.literal(false),
    error: z.object({
      code: z.string(),
      message: z.string(),
      stack: z.string().optional(),
      type: z.string().optional(),
      payload: z.unknown().optional(),
      retryAfterMs: z.number().optional(),
      limit: z.number().optional(),
      used: z.number().optional(),
    }),
  }),
]);

type Outcome = { ok: true; output: unknown } | { ok: false; error: RunError };

/**
 * The prelude's JSON envelope as the run's outcome. Script text in it (messages, stacks, payloads,
 * output) is made storable and its values bounded here, before anything leaves this process.
 */
function readEnvelope(text: string): Outcome {
  let value: unknown;
  try {
    value = JSON.parse(storableJsonText(text));
  } catch {
    return internal('the in-isolate SDK returned malformed JSON');
  }
  const parsed = EnvelopeSchema.safeParse(value);
  if (!parsed.success) return internal('the in-isolate SDK returned an unexpected result');
  if (parsed.data.ok) {
    if (Buffer.byteLength(parsed.data.output) > CAPS.actionOutputBytes) {
      return { ok: false, error: { kind: 'limit', code: 'OUTPUT_SIZE', message: `output is over the ${CAPS.actionOutputBytes}-byte cap`, limit: CAPS.actionOutputBytes } };
    }
    const output: unknown = JSON.parse(storableJsonText(parsed.data.output));
    const deep = tooDeepAt(output);
    if (deep) return { ok: false, error: { kind: 'sdk', code: 'INVALID_OUTPUT', message: depthMessage('the action output', deep) } };
    return { ok: true, output };
  }
  const error = parsed.data.error;
  const kind = ENVELOPE_KINDS[error.code];
  const code = kind ? error.code : 'SCRIPT_ERROR';
  const out: RunError = { kind: kind ?? 'script', code, message: storableText(error.message.slice(0, CAPS.logLineChars)) };
  if (error.stack !== undefined) out.stack = storableText(error.stack.slice(0, CAPS.logLineChars));
  if (code === 'ACTION_ERROR') {
    out.type = error.type ?? 'action_error';
    const deep = tooDeepAt(error.payload);
    if (deep) return { ok: false, error: { kind: 'sdk', code: 'INVALID_OUTPUT', message: `${depthMessage("the ActionError's payload", deep)}; the action failed with type ${JSON.stringify(out.type)}: ${out.message}` } };
    if (error.payload !== undefined) out.payload = error.payload;
  }
  if (code === 'RETRY_AFTER') out.retryAfterMs = error.retryAfterMs ?? 0;
  if (code === 'OUTPUT_SIZE') {
    if (error.limit !== undefined) out.limit = error.limit;
    if (error.used !== undefined) out.used = error.used;
  }
  return { ok: false, error: out };
}

/** A key split's keys are data from the script: checked here, so every caller (host, dryrun, tests) gets the same verdict. */
function readPartitionKeys(outcome: Outcome): Outcome {
  if (!outcome.ok) return outcome;
  // Counted before each key is looked at: a list of a million tiny keys costs this process
  // (outside the isolate's CPU limit) no more than a list of MAX_PARTS.
  if (Array.isArray(outcome.output) && outcome.output.length > MAX_PARTS) {
    return { ok: false, error: { kind: 'sdk', code: 'INVALID_OUTPUT', message: `split.partitions returned ${outcome.output.length} keys: it may return at most ${MAX_PARTS} keys` } };
  }
  const parsed = PartitionKeysSchema.safeParse(outcome.output);
  if (parsed.success) return { ok: true, output: parsed.data };
  const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.length ? `keys[${i.path.join('.')}]` : 'the result'}: ${i.message}`);
  const more = parsed.error.issues.length > 5 ? `; and ${parsed.error.issues.length - 5} more` : '';
  return { ok: false, error: { kind: 'sdk', code: 'INVALID_OUTPUT', message: storableText(`split.partitions returned unusable keys: ${issues.join('; ')}${more}`) } };
}

function internal(message: string): Outcome {
  return { ok: false, error: { kind: 'internal', code: 'INTERNAL', message: storableText(message) } };
}

/** A failure while evaluating the bundle's top level. */
function topLevelFailure(sandbox: Sandbox, error: unknown, compiled: boolean): Outcome {
  const stopped = sandbox.stopReason(error);
  if (stopped) return { ok: false, error: stopped };
  const message = storableText(error instanceof Error ? error.message : String(error));
  if (!compiled) return { ok: false, error: { kind: 'sdk', code: 'BAD_SCRIPT', message: `the bundle does not compile: ${message}` } };
  // The script's own code threw while the bundle loaded: its own message, a code that says when.
  const out: RunError = { kind: 'script', code: 'SCRIPT_LOAD_ERROR', message };
  if (error instanceof Error && error.stack) out.stack = storableText(error.stack.slice(0, CAPS.logLineChars));
  return { ok: false, error: out };
}

function createLogGate(emitLog: (entry: LogEntry) => void): (level: string, message: string) => void {
  let count = 0;
  return (level, message) => {
    count++;
    if (count > CAPS.logsPerRun + 1) return;
    const at = new Date().toISOString();
    if (count === CAPS.logsPerRun + 1) {
      emitLog({ level: 'warn', message: `log limit of ${CAPS.logsPerRun} lines per run reached: further logs are dropped`, at });
      return;
    }
    const safeLevel = level === 'debug' || level === 'warn' || level === 'error' ? level : 'info';
    // After the cut, which may split a surrogate pair.
    emitLog({ level: safeLevel, message: storableText(message.slice(0, CAPS.logLineChars)), at });
  };
}

/**
 * Limits V8 reports as ordinary exceptions: a stack overflow, and an ArrayBuffer the isolate's
 * memory limit refused. Uncaught, they end the run as the limit errors they are.
 */
function typeEngineLimits(outcome: Outcome, limits: SandboxLimits, usedBytes: number): Outcome {
  if (outcome.ok || (outcome.error.code !== 'SCRIPT_ERROR' && outcome.error.code !== 'SCRIPT_LOAD_ERROR')) return outcome;
  const { message, stack } = outcome.error;
  if (message === 'Maximum call stack size exceeded') {
    // The overflow is the stack used up: what was used is the whole of it.
    const kib = scriptStackKib();
    const figures = kib === null ? {} : { limit: kib, used: kib };
    const size = kib === null ? '' : ` of ${kib} KiB`;
    return { ok: false, error: { kind: 'limit', code: 'STACK_OVERFLOW', message: `the call stack${size} overflowed (recursion too deep)`, ...figures, ...(stack ? { stack } : {}) } };
  }
  if (message === 'Array buffer allocation failed') {
    return { ok: false, error: { kind: 'limit', code: 'MEMORY', message: `memory limit of ${limits.memoryMb} MB exceeded (an ArrayBuffer allocation was refused)`, limit: limits.memoryMb, used: Math.max(limits.memoryMb, Math.round(usedBytes / MiB)) } };
  }
  return outcome;
}

const MiB = 1024 * 1024;

interface Phases {
  limits: SandboxLimits;
  environmentId?: string | undefined;
  /** sha256 of the bundle (hex), when the caller has it. */
  codeHash?: string;
  /** Runs after the top level evaluated; returns the outcome. */
  after(sandbox: Sandbox): Promise<Outcome>;
}

interface Executed {
  outcome: Outcome;
  warmStart: boolean;
  cpuMs: number;
  peakHeapBytes: number;
  bridgeBytes: number;
  proxyCalls: number;
}

async function execute(code: string, phases: Phases, deps: ExecuteDeps, onSandbox: (sandbox: Sandbox) => void): Promise<Executed> {
  const usage = { bridgeBytes: 0, proxyCalls: 0 };
  const hostCalls = createHostCalls({ callParent: deps.callParent, usage });
  let sandbox: Sandbox;
  let warmStart = false;
  try {
    const lease = deps.isolates.acquire({ code, codeHash: phases.codeHash, memoryMb: phases.limits.memoryMb, environmentId: phases.environmentId });
    warmStart = lease.warm;
    sandbox = await openSandbox(phases.limits, { hostCalls, onLog: createLogGate(deps.emitLog), onHeap: deps.emitHeap }, lease);
  } catch (error) {
    return { outcome: internal(`could not create the isolate: ${error instanceof Error ? error.message : String(error)}`), warmStart, cpuMs: 0, peakHeapBytes: 0, ...usage };
  }
  onSandbox(sandbox);
  let outcome: Outcome;
  let compiled = false;
  try {
    // Only a bundle V8 cannot compile is not the script's doing; a SyntaxError its code throws (JSON.parse) is.
    await sandbox.evaluate().catch((error: unknown) => {
      compiled = !(error instanceof BundleCompileError);
      throw error;
    });
    compiled = true;
    try {
      outcome = await phases.after(sandbox);
      // Host calls the script made before it returned (an un-awaited batchSave) finish before
      // the run does, under the same wall clock; later ones are refused at close().
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.race([hostCalls.settled(), sandbox.stopped]);
    } catch (error) {
      const stopped = sandbox.stopReason(error);
      outcome = stopped ? { ok: false, error: stopped } : internal(error instanceof Error ? error.message : String(error));
    }
  } catch (error) {
    outcome = topLevelFailure(sandbox, error, compiled);
  } finally {
    sandbox.close();
  }
  const stopped = sandbox.stopReason();
  // A limit that fired while the envelope was already on its way still wins: the run was cut.
  if (stopped && outcome.ok) outcome = { ok: false, error: stopped };
  const { cpuMs, peakHeapBytes, heapBytes } = sandbox.usage();
  outcome = typeEngineLimits(outcome, phases.limits, heapBytes);
  return { outcome, warmStart, cpuMs, peakHeapBytes, ...usage };
}

export function startRun(job: Job, codeHash: string, deps: ExecuteDeps): Execution {
  const startedAt = performance.now();
  let sandbox: Sandbox | null = null;
  let abortedEarly = false;
  const abortError: RunError = { kind: 'internal', code: 'ABORTED', message: 'the run was aborted' };
  const isolateJob = JSON.stringify({ kind: job.kind, input: job.input, context: job.context });
  const result = execute(
    job.code,
    { limits: job.limits, environmentId: job.environmentId, codeHash, after: async (s) => {
      const outcome = readEnvelope(await s.call('run', isolateJob));
      return job.kind === 'partitions' ? readPartitionKeys(outcome) : outcome;
    } },
    deps,
    (s) => {
      sandbox = s;
      if (abortedEarly) s.stop(abortError);
      void s.stopped.then((reason) => {
        const timer = setTimeout(() => {
          const { cpuMs, peakHeapBytes } = s.usage();
          deps.onStuck({ ok: false, error: reason, usage: { wallMs: Math.round(performance.now() - startedAt), cpuMs: Math.round(cpuMs), peakHeapBytes, bridgeBytes: 0, proxyCalls: 0 } });
        }, STOP_GRACE_MS);
        void result.finally(() => clearTimeout(timer));
      });
    },
  ).then((done) => {
    const { outcome, cpuMs, peakHeapBytes, bridgeBytes, proxyCalls, warmStart } = done;
    const usage = { wallMs: Math.round(performance.now() - startedAt), cpuMs: Math.round(cpuMs * 1000) / 1000, peakHeapBytes, bridgeBytes, proxyCalls, warmStart };
    return outcome.ok ? { ok: true as const, output: outcome.output, usage } : { ok: false as const, error: outcome.error, usage };
  });
  return {
    result,
    abort() {
      if (sandbox) (sandbox as Sandbox).stop(abortError);
      else abortedEarly = true;
    },
  };
}


export async function describeBundle(code: string, deps: ExecuteDeps): Promise<{ ok: true; manifest: unknown } | { ok: false; error: RunError }> {
  const { outcome } = await execute(
    code,
    {
      limits: DESCRIBE_LIMITS,
      after: async (s) => {
        const envelope = JSON.parse(storableJsonText(await s.call('describe', ''))) as { ok: boolean; manifest?: unknown; error?: unknown };
        if (!envelope.ok) return readEnvelope(JSON.stringify(envelope));
        const manifest = ScriptManifestSchema.safeParse(envelope.manifest);
        if (!manifest.success) {
          const issues = manifest.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
          return { ok: false, error: { kind: 'sdk', code: 'BAD_SCRIPT', message: `the script definition is invalid: ${issues}` } };
        }
        return { ok: true, output: manifest.data };
      },
    },
    deps,
    () => {},
  );
  return outcome.ok ? { ok: true, manifest: outcome.output } : { ok: false, error: outcome.error };
}
