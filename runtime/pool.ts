/**
 * The supervisor: keeps N worker children, queues tasks, gives each child one task at a time,
 * serves the children's bridge calls with the run's HostBridge, and turns a child that dies
 * mid-task into a result (WORKER_CRASHED, or MEMORY when its heap was at the limit) before
 * forking a replacement. This process never creates an isolate.
 */
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { HostBridge, LogEntry, RecordBatch, RunError, RunJob, Usage } from './contract.ts';
import { CAPS } from './caps.ts';
import { encodeFrame, readFrames } from './channel.ts';
import { plainRows, unpackRows } from './packed-records.ts';
import { ChildMessageSchema, rememberBundle, type BridgeCall, type ChildMessage, type PackedBatch, type ParentMessage } from './ipc.ts';
import type { IsolateMode } from './worker/isolates.ts';

// The same extension as this module: `.ts` sources in the repository, built `.js` in a package.
const CHILD_ENTRY = fileURLToPath(new URL(`./worker/main${extname(import.meta.url)}`, import.meta.url));
/** A child that has not answered this long after its run's wall limit is killed. */
const BACKSTOP_GRACE_MS = 10_000;
/** A heap sample at or over this share of the limit makes a crash a MEMORY error. */
const NEAR_MEMORY_LIMIT = 0.8;
const RESPAWN_DELAY_MS = 100;
/**
 * The child holds its run to CAPS.hostCallsInFlight unanswered host calls; a child far past that
 * is flooding the host with work (each call is served concurrently), and is ended.
 */
const MAX_CALLS_IN_FLIGHT = CAPS.hostCallsInFlight * 4;
/** Log lines kept per task: the child's cap and its one warning, with room to spare. */
const MAX_TASK_LOGS = CAPS.logsPerRun + 100;

export type TaskOutcome =
  | { type: 'result'; message: Extract<ChildMessage, { type: 'result' }>['result'] }
  | { type: 'described'; message: Extract<ChildMessage, { type: 'described' }>['result'] }
  | { type: 'failed'; error: RunError; usage: Usage };

export interface Task {
  id: string;
  /** What to send the child (without the task id). */
  request: { type: 'run'; job: RunJob; codeHash: string } | { type: 'describe'; code: string };
  bridge: HostBridge | null;
  memoryLimitBytes: number;
  wallTimeMs: number;
  logs: LogEntry[];
  peakHeapBytes: number;
  /** Counted here too, so a run whose child died still reports what it did. */
  bridgeBytes: number;
  proxyCalls: number;
  startedAt: number;
  finish(outcome: TaskOutcome): void;
}

interface Slot {
  child: ChildProcess;
  /** The child's fd 3: frames both ways (see channel.ts). */
  channel: Socket;
  /** Why this process killed the child, when it did (reported as the run's error). */
  fault: string | null;
  ready: boolean;
  task: Task | null;
  backstop: NodeJS.Timeout | null;
  /** The bundles this child has (mirrors its own cache; see rememberBundle). */
  bundles: Map<string, true>;
}

export interface WorkerPool {
  submit(task: Task): 'queued' | 'full';
  /** Removes a queued task or aborts a running one. */
  cancel(task: Task): void;
  pids(): number[];
  close(): Promise<void>;
}

/** A batch as the bridge takes it: rows reading the bytes (packedRows bridges), or plain rows. */
function recordBatchOf(batch: PackedBatch, packed: boolean): RecordBatch {
  const { records, ...rest } = batch;
  return { ...rest, records: packed ? unpackRows(records) : plainRows(records) };
}

export function createWorkerPool(options: { size: number; maxQueue: number; logger: Logger; isolates: IsolateMode }): WorkerPool {
  const { logger } = options;
  const slots = new Set<Slot>();
  const queue: Task[] = [];
  const callsInFlight = new WeakMap<Task, number>();
  let closing = false;

  function usageOf(task: Task): Usage {
    return { wallMs: Math.round(performance.now() - task.startedAt), cpuMs: 0, peakHeapBytes: task.peakHeapBytes, bridgeBytes: task.bridgeBytes, proxyCalls: task.proxyCalls };
  }

  function spawn(): void {
    // V8's structured clone (channel.ts) carries a batch's JSON text as one string; JSON would
    // escape and unescape every quote in it (bench/ingest: the runtime alone moved 37k records/s
    // with JSON, 56–59k with structured clone). Every message is still checked with zod on arrival.
    const child = spawnProcess(process.execPath, ['--no-node-snapshot', '--expose-gc', CHILD_ENTRY, `--isolates=${options.isolates}`], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
    const channel = child.stdio[3] as Socket;
    const slot: Slot = { child, channel, fault: null, ready: false, task: null, backstop: null, bundles: new Map() };
    slots.add(slot);
    readFrames(channel, (raw) => {
      try {
        onMessage(slot, raw);
      } catch (error) {
        // A message that passed its schema yet cannot be handled (e.g. too deep to measure).
        kill(slot, `the worker sent a message the host could not handle (${error instanceof Error ? error.message : String(error)})`);
      }
    }, (error) => kill(slot, `the worker sent a message the host could not read (${error.message})`));
    channel.on('error', (error) => logger.warn({ err: error, pid: child.pid }, 'worker channel error'));
    child.on('error', (error) => logger.error({ err: error, pid: child.pid }, 'worker child error'));
    child.on('exit', (code, signal) => onExit(slot, code, signal));
  }

  /** Ends a child that broke the protocol; its run fails with `why` and a new child replaces it. */
  function kill(slot: Slot, why: string): void {
    if (slot.fault !== null) return;
    slot.fault = why;
    logger.error({ pid: slot.child.pid, taskId: slot.task?.id }, `${why}; killing it`);
    slot.channel.destroy();
    slot.child.kill('SIGKILL');
  }

  /** Sends one message; false (and nothing sent) when it cannot be serialised or the child is gone. */
  function send(slot: Slot, message: ParentMessage): boolean {
    if (slot.fault !== null || slot.channel.destroyed || !slot.channel.writable) return false;
    let frame: Buffer;
    try {
      frame = encodeFrame(message);
    } catch (error) {
      logger.warn({ err: error, pid: slot.child.pid, type: message.type }, 'a message to a worker could not be serialised');
      return false;
    }
    slot.channel.write(frame);
    return true;
  }

  function onMessage(slot: Slot, raw: unknown): void {
    if (slot.fault !== null) return;
    const parsed = ChildMessageSchema.safeParse(raw);
    if (!parsed.success) {
      kill(slot, `the worker sent an invalid message (${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
      return;
    }
    const message = parsed.data;
    if (message.type === 'ready') {
      slot.ready = true;
      pump();
      return;
    }
    const task = slot.task;
    if (!task || task.id !== message.taskId) return;
    switch (message.type) {
      case 'logs': {
        // Bounded here too: a child past its own cap must not grow the parent's memory.
        const entries = message.entries.slice(0, Math.max(0, MAX_TASK_LOGS - task.logs.length));
        if (entries.length === 0) return;
        for (const entry of entries) task.logs.push(entry);
        try {
          task.bridge?.log(entries);
        } catch (error) {
          logger.warn({ err: error }, 'HostBridge.log threw');
        }
        return;
      }
      case 'heap':
        task.peakHeapBytes = Math.max(task.peakHeapBytes, message.bytes);
        return;
      case 'bridge-call': {
        const inFlight = (callsInFlight.get(task) ?? 0) + 1;
        if (inFlight > MAX_CALLS_IN_FLIGHT) {
          kill(slot, `the worker had more than ${MAX_CALLS_IN_FLIGHT} host calls in flight`);
          return;
        }
        callsInFlight.set(task, inFlight);
        if (message.call.method === 'proxy') task.proxyCalls++;
        task.bridgeBytes += callSize(message.call);
        void serveBridgeCall(slot, task, message.callId, message.call).finally(() => callsInFlight.set(task, (callsInFlight.get(task) ?? 1) - 1));
        return;
      }
      case 'result':
      case 'described':
        release(slot);
        task.finish(message.type === 'result' ? { type: 'result', message: message.result } : { type: 'described', message: message.result });
        pump();
        return;
    }
  }

  /**
   * About the characters a bridge call carries. A batch is counted from its strings (without
   * JSON's escaping): JSON.stringify of every batch, only to measure it, cost the host 1.8 ms of
   * CPU and a ~1 MB string per 1,000 ~1 KB records.
   */
  function callSize(call: BridgeCall): number {
    if (call.method !== 'saveRecords') return JSON.stringify(call).length;
    const { records, rejected, ...rest } = call.batch;
    let size = JSON.stringify(rest).length + JSON.stringify(rejected).length + records.hashes.length + records.json.length;
    for (const id of records.ids) size += id.length + 22; // {"id":"","json":,"hash":""},
    return size;
  }

  async function serveBridgeCall(slot: Slot, task: Task, callId: number, call: BridgeCall): Promise<void> {
    const bridge = task.bridge;
    try {
      if (!bridge) throw new Error('host calls are not available here');
      let value: unknown;
      switch (call.method) {
        case 'saveRecords':
          value = await bridge.saveRecords(recordBatchOf(call.batch, bridge.packedRows === true));
          break;
        case 'proxy':
          value = await bridge.proxy(call.request);
          break;
        case 'getMetadata':
          value = await bridge.getMetadata();
          break;
        case 'setMetadata':
          await bridge.setMetadata(call.metadata, call.merge);
          break;
        case 'saveCheckpoint':
          await bridge.saveCheckpoint(call.checkpoint);
          break;
        case 'trackDeletes':
          if (!bridge.trackDeletes) throw new Error('trackDeletesStart/End are not available here');
          await bridge.trackDeletes(call.model, call.phase);
          break;
        case 'listRecords':
          if (!bridge.listRecords) throw new Error('listRecords is not available here');
          value = await bridge.listRecords(call.model, call.cursor, call.limit);
          break;
        case 'paginate':
          if (!bridge.paginate) throw new Error('paginate is not answered by the host here');
          value = await bridge.paginate(call.step);
          break;
      }
      if (slot.task === task && !send(slot, { type: 'bridge-result', callId, ok: true, value })) {
        send(slot, { type: 'bridge-result', callId, ok: false, error: 'the host could not send its answer to this call to the worker (too large or too deep)', code: 'BRIDGE_ERROR' });
      }
    } catch (error) {
      const coded = error as { code?: unknown; retryAfterMs?: unknown };
      if (slot.task === task) {
        send(slot, {
          type: 'bridge-result', callId, ok: false, error: error instanceof Error ? error.message : String(error),
          // Only host codes shaped like ours cross (not a driver's "23505").
          ...(typeof coded.code === 'string' && /^[A-Z][A-Z_]+$/.test(coded.code) && { code: coded.code }),
          ...(typeof coded.retryAfterMs === 'number' && { retryAfterMs: coded.retryAfterMs }),
        });
      }
    }
  }

  function release(slot: Slot): void {
    if (slot.backstop) clearTimeout(slot.backstop);
    slot.backstop = null;
    slot.task = null;
  }

  function onExit(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    slots.delete(slot);
    const task = slot.task;
    release(slot);
    if (task) {
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      const nearLimit = task.peakHeapBytes >= NEAR_MEMORY_LIMIT * task.memoryLimitBytes;
      const error: RunError = closing
        ? { kind: 'internal', code: 'SHUTTING_DOWN', message: 'the runtime closed during the run' }
        : slot.fault !== null
        ? { kind: 'internal', code: 'WORKER_CRASHED', message: `${slot.fault}: the worker was replaced` }
        : nearLimit
        ? { kind: 'limit', code: 'MEMORY', message: `the worker died (${how}) with the isolate's heap at its memory limit`, limit: task.memoryLimitBytes / (1024 * 1024), used: Math.round(task.peakHeapBytes / (1024 * 1024)) }
        : { kind: 'internal', code: 'WORKER_CRASHED', message: `the worker process died mid-run (${how})` };
      logger.warn({ pid: slot.child.pid, code, signal, taskId: task.id }, 'worker died mid-task');
      task.finish({ type: 'failed', error, usage: usageOf(task) });
    }
    if (!closing) setTimeout(() => {
      if (!closing) spawn();
      pump();
    }, task ? 0 : RESPAWN_DELAY_MS);
  }

  function pump(): void {
    for (const slot of slots) {
      if (queue.length === 0) return;
      if (!slot.ready || slot.task || slot.fault !== null || slot.channel.destroyed) continue;
      const task = queue.shift()!;
      // Sent before the slot takes the task: a task that cannot be sent (an input V8 will not
      // serialise) fails alone, and the slot stays free for the next.
      if (!sendTask(slot, task)) {
        task.finish({ type: 'failed', error: { kind: 'sdk', code: 'INVALID_INPUT', message: "the run's input could not be sent to a worker (too large or nested too deep)" }, usage: usageOf(task) });
        return pump();
      }
      slot.task = task;
      task.startedAt = performance.now();
      slot.backstop = setTimeout(() => {
        logger.error({ pid: slot.child.pid, taskId: task.id }, 'worker unresponsive past its wall limit; killing it');
        slot.child.kill('SIGKILL');
      }, task.wallTimeMs + BACKSTOP_GRACE_MS);
    }
  }

  function sendTask(slot: Slot, task: Task): boolean {
    const request = task.request;
    if (request.type !== 'run') return send(slot, { ...request, taskId: task.id });
    // A bundle crosses once per child; afterwards only its hash does. The child remembers it on
    // arrival, so the parent does only once it is sent.
    const { code, ...job } = request.job;
    const known = slot.bundles.has(request.codeHash);
    if (!send(slot, { type: 'run', taskId: task.id, job: known ? job : { ...job, code }, codeHash: request.codeHash })) return false;
    rememberBundle(slot.bundles, request.codeHash, true);
    return true;
  }

  for (let i = 0; i < options.size; i++) spawn();

  return {
    submit(task) {
      if (closing) return 'full';
      if (queue.length >= options.maxQueue) return 'full';
      queue.push(task);
      pump();
      return 'queued';
    },
    cancel(task) {
      const at = queue.indexOf(task);
      if (at >= 0) {
        queue.splice(at, 1);
        task.finish({ type: 'failed', error: { kind: 'internal', code: 'ABORTED', message: 'the run was aborted before it started' }, usage: usageOf(task) });
        return;
      }
      for (const slot of slots) if (slot.task === task) send(slot, { type: 'abort', taskId: task.id });
    },
    pids() {
      return [...slots].map((s) => s.child.pid).filter((pid): pid is number => pid !== undefined);
    },
    async close() {
      closing = true;
      for (const task of queue.splice(0)) {
        task.finish({ type: 'failed', error: { kind: 'internal', code: 'SHUTTING_DOWN', message: 'the runtime is closing' }, usage: usageOf(task) });
      }
      const exits = [...slots].map((slot) => new Promise<void>((resolve) => {
        if (slot.child.exitCode !== null || slot.child.signalCode !== null) return resolve();
        slot.child.once('exit', () => resolve());
        // Running tasks end as WORKER_CRASHED-like failures via onExit; give them no extra time.
        slot.child.kill('SIGTERM');
      }));
      await Promise.all(exits);
    },
  };
}
