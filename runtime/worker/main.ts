/**
 * Entry point of a worker child process (forked with --no-node-snapshot, which isolated-vm needs
 * on Node >= 20, and --expose-gc, which isolates.ts uses between warm runs). Runs one task at a time: a run or a describe. Logs and heap samples stream to
 * the parent as they come, so a child that dies mid-run loses nothing already said.
 */
import type { LogEntry } from '../contract.ts';
import { createHash } from 'node:crypto';
import { Socket } from 'node:net';
import { MAX_DEPTH, tooDeepAt } from '../bounds.ts';
import { encodeFrame, readFrames } from '../channel.ts';
import { ParentMessageSchema, rememberBundle, type BridgeCall, type ChildMessage } from '../ipc.ts';
import { describeBundle, startRun, type ExecuteDeps, type Execution } from './execute.ts';
import { createIsolateSource, deserialiseWithoutRehashing, type IsolateMode } from './isolates.ts';

const LOG_FLUSH_MS = 20;
const LOG_BATCH = 100;
const HEAP_REPORT_STEP = 256 * 1024;

/** fd 3, set up by the pool: frames both ways (see channel.ts). */
const channel = new Socket({ fd: 3, readable: true, writable: true });

/**
 * Sends one message, bounded here so the parent never receives what it cannot read: what does
 * not fit (too deep, too large to frame) is refused with the reason, and the caller decides what
 * that means for the run. `done` runs once the frame is handed to the OS.
 */
function post(message: ChildMessage, done?: () => void): string | null {
  if (channel.destroyed) process.exit(0);
  // Records and proxy requests are flat by their schemas; script values sit a few levels down.
  const carriesValues = message.type === 'result' || message.type === 'described' || (message.type === 'bridge-call' && message.call.method !== 'saveRecords' && message.call.method !== 'proxy');
  const deep = carriesValues ? tooDeepAt(message, MAX_DEPTH + 4) : null;
  if (deep) return `nested deeper than ${MAX_DEPTH} levels`;
  let frame: Buffer;
  try {
    frame = encodeFrame(message);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  channel.write(frame, done);
  return null;
}

/** Posts a run's or describe's result; one that cannot be sent is replaced by an error saying why. */
function postResult(message: Extract<ChildMessage, { type: 'result' | 'described' }>, done?: () => void): void {
  const refused = post(message, done);
  if (refused === null) return;
  const error = { kind: 'sdk' as const, code: 'INVALID_OUTPUT', message: `the ${message.type === 'result' ? "run's result" : 'definition'} cannot be sent to the host: ${refused}` };
  const usage = message.type === 'result' ? message.result.usage : undefined;
  post(message.type === 'result' ? { type: 'result', taskId: message.taskId, result: { ok: false, error, usage: usage! } } : { type: 'described', taskId: message.taskId, result: { ok: false, error } }, done);
}

interface Task {
  taskId: string;
  execution: Execution | null;
  calls: Map<number, { resolve(value: unknown): void; reject(error: Error): void }>;
  logs: LogEntry[];
  logTimer: NodeJS.Timeout | null;
  reportedHeap: number;
}

let current: Task | null = null;
/** Bundles by sha256, most recently used last; the parent mirrors this to send each one once. */
const bundles = new Map<string, string>();
let nextCallId = 0;

deserialiseWithoutRehashing();
const isolates = createIsolateSource({
  mode: (process.argv.includes('--isolates=warm') ? 'warm' : 'fresh') satisfies IsolateMode,
  onCatastrophicError() {
    // V8 lost control of an isolate: nothing in this process can be trusted any more. The
    // parent sees the exit and reports the run as crashed.
    process.abort();
  },
});

function flushLogs(task: Task): void {
  if (task.logTimer) clearTimeout(task.logTimer);
  task.logTimer = null;
  if (task.logs.length === 0) return;
  post({ type: 'logs', taskId: task.taskId, entries: task.logs });
  task.logs = [];
}

function depsFor(task: Task): ExecuteDeps {
  return {
    callParent(call: BridgeCall) {
      return new Promise((resolve, reject) => {
        const callId = ++nextCallId;
        task.calls.set(callId, { resolve, reject });
        // Logs said before a host call reach the host before its effects.
        flushLogs(task);
        const refused = post({ type: 'bridge-call', taskId: task.taskId, callId, call });
        if (refused !== null) {
          task.calls.delete(callId);
          reject(Object.assign(new Error(`the ${call.method} call cannot be sent to the host: ${refused}`), { code: 'INVALID_ARGUMENT' }));
        }
      });
    },
    emitLog(entry) {
      task.logs.push(entry);
      if (task.logs.length >= LOG_BATCH) flushLogs(task);
      else task.logTimer ??= setTimeout(() => flushLogs(task), LOG_FLUSH_MS);
    },
    emitHeap(bytes) {
      if (bytes - task.reportedHeap < HEAP_REPORT_STEP) return;
      task.reportedHeap = bytes;
      post({ type: 'heap', taskId: task.taskId, bytes });
    },
    isolates,
    onStuck(result) {
      if (current !== task) return;
      flushLogs(task);
      // Report the run's real cause, then die: a thread V8 will not stop cannot be reused.
      postResult({ type: 'result', taskId: task.taskId, result }, () => process.kill(process.pid, 'SIGKILL'));
    },
  };
}

function newTask(taskId: string): Task {
  return { taskId, execution: null, calls: new Map(), logs: [], logTimer: null, reportedHeap: 0 };
}

function onMessage(raw: unknown): void {
  const parsed = ParentMessageSchema.safeParse(raw);
  if (!parsed.success) {
    process.exitCode = 70;
    channel.destroy();
    return;
  }
  const message = parsed.data;
  switch (message.type) {
    case 'run': {
      // Kept up to date before anything else, exactly as the parent does on sending.
      const { code: sent, ...rest } = message.job;
      let code = sent ?? bundles.get(message.codeHash);
      if (code !== undefined && sent !== undefined && createHash('sha256').update(sent).digest('hex') !== message.codeHash) code = undefined;
      if (code !== undefined) rememberBundle(bundles, message.codeHash, code);
      if (current) return;
      const task = newTask(message.taskId);
      current = task;
      if (code === undefined) {
        current = null;
        post({ type: 'result', taskId: task.taskId, result: { ok: false, error: { kind: 'internal', code: 'INTERNAL', message: 'the worker does not have the bundle it was asked to run' }, usage: { wallMs: 0, cpuMs: 0, peakHeapBytes: 0, bridgeBytes: 0, proxyCalls: 0 } } });
        return;
      }
      task.execution = startRun({ ...rest, code }, message.codeHash, depsFor(task));
      void task.execution.result.then((result) => {
        flushLogs(task);
        current = null;
        postResult({ type: 'result', taskId: task.taskId, result });
      });
      return;
    }
    case 'describe': {
      if (current) return;
      const task = newTask(message.taskId);
      current = task;
      void describeBundle(message.code, depsFor(task)).then((result) => {
        flushLogs(task);
        current = null;
        postResult({ type: 'described', taskId: task.taskId, result });
      });
      return;
    }
    case 'abort': {
      if (current?.taskId === message.taskId) current.execution?.abort();
      return;
    }
    case 'bridge-result': {
      const call = current?.calls.get(message.callId);
      if (!call || !current) return;
      current.calls.delete(message.callId);
      if (message.ok) call.resolve(message.value);
      else call.reject(Object.assign(new Error(message.error ?? 'host call failed'), { code: message.code, retryAfterMs: message.retryAfterMs }));
      return;
    }
  }
}

readFrames(channel, onMessage, () => {
  process.exitCode = 70;
  channel.destroy();
});
// The parent is gone (or broke the protocol): nothing is left to report to.
channel.on('close', () => process.exit());
channel.on('error', () => process.exit());
post({ type: 'ready' });
