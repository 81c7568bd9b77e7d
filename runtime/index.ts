/**
 * The runtime's public entry: `createRuntime` runs bundled scripts in fresh isolated-vm isolates
 * inside a pool of worker child processes. The calling process never creates an isolate.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { RunJobSchema, ScriptManifestSchema, type HostBridge, type RunError, type RunJob, type RunResult, type Runtime, type ScriptManifest, type Usage } from './contract.ts';
import { DESCRIBE_LIMITS } from './limits.ts';
import { createWorkerPool, type Task, type TaskOutcome } from './pool.ts';
import type { IsolateMode } from './worker/isolates.ts';

export * from './contract.ts';
export { CAPS } from './caps.ts';
export type { IsolateMode } from './worker/isolates.ts';

export interface RuntimeOptions {
  /** Worker child processes; each runs one script at a time. */
  workers: number;
  logger: Logger;
  /** Runs waiting for a worker beyond this are refused with QUEUE_FULL (default 1000). */
  maxQueue?: number;
  /**
   * fresh: a new isolate per run. warm (the default): a run whose job names its environment may
   * reuse an isolate kept by its worker for the same (environment, bundle, memory limit), with a
   * fresh context per run. Warm is the default because the sandbox conformance suite
   * (test/sandbox) proves the same guarantees for both modes, while a warm start is several
   * times faster, which actions (a user waiting on POST /actions) and frequent syncs feel.
   * Choose fresh to keep not even the heap of one run's isolate around for the next.
   */
  isolates?: IsolateMode;
}

export interface WorkerRuntime extends Runtime {
  /** Process ids of the live worker children (for operations and tests). */
  workerPids(): number[];
}

const EMPTY_USAGE: Usage = { wallMs: 0, cpuMs: 0, peakHeapBytes: 0, bridgeBytes: 0, proxyCalls: 0 };
const MiB = 1024 * 1024;

function refused(code: string, message: string): RunResult {
  return { ok: false, error: { kind: 'internal', code, message }, logs: [], usage: EMPTY_USAGE };
}

export function createRuntime(options: RuntimeOptions): WorkerRuntime {
  const logger = options.logger.child({ module: 'runtime' });
  const pool = createWorkerPool({ size: Math.max(1, options.workers), maxQueue: options.maxQueue ?? 1000, logger, isolates: options.isolates ?? 'warm' });

  function submit(task: Omit<Task, 'finish' | 'logs' | 'peakHeapBytes' | 'bridgeBytes' | 'proxyCalls' | 'startedAt'>, signal?: AbortSignal): Promise<{ outcome: TaskOutcome; task: Task }> {
    return new Promise((resolve) => {
      let settled = false;
      const onAbort = () => pool.cancel(full);
      const full: Task = {
        ...task,
        logs: [],
        peakHeapBytes: 0,
        bridgeBytes: 0,
        proxyCalls: 0,
        startedAt: performance.now(),
        finish(outcome) {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          resolve({ outcome, task: full });
        },
      };
      if (pool.submit(full) === 'full') {
        full.finish({ type: 'failed', error: { kind: 'internal', code: 'QUEUE_FULL', message: 'the runtime queue is full or closing' }, usage: EMPTY_USAGE });
        return;
      }
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  return {
    async run(job: RunJob, bridge: HostBridge, runOptions?: { signal?: AbortSignal }): Promise<RunResult> {
      const parsed = RunJobSchema.safeParse(job);
      if (!parsed.success) return refused('INTERNAL', `invalid run job: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const { outcome, task } = await submit(
        { id: `${parsed.data.runId}:${randomUUID()}`, request: { type: 'run', job: parsed.data, codeHash: createHash('sha256').update(parsed.data.code).digest('hex') }, bridge, memoryLimitBytes: parsed.data.limits.memoryMb * MiB, wallTimeMs: parsed.data.limits.wallTimeMs },
        runOptions?.signal,
      );
      if (outcome.type === 'failed') return { ok: false, error: outcome.error, logs: task.logs, usage: outcome.usage };
      if (outcome.type !== 'result') return refused('INTERNAL', 'the worker answered a run with a describe result');
      return { ...outcome.message, logs: task.logs };
    },

    async describe(code: string): Promise<{ ok: true; manifest: ScriptManifest } | { ok: false; error: RunError }> {
      const { outcome } = await submit({ id: `describe:${randomUUID()}`, request: { type: 'describe', code }, bridge: null, memoryLimitBytes: DESCRIBE_LIMITS.memoryMb * MiB, wallTimeMs: DESCRIBE_LIMITS.wallTimeMs });
      if (outcome.type === 'failed') return { ok: false, error: outcome.error };
      if (outcome.type !== 'described') return { ok: false, error: { kind: 'internal', code: 'INTERNAL', message: 'the worker answered a describe with a run result' } };
      if (!outcome.message.ok) return outcome.message;
      const manifest = ScriptManifestSchema.safeParse(outcome.message.manifest);
      if (!manifest.success) return { ok: false, error: { kind: 'sdk', code: 'BAD_SCRIPT', message: 'the script definition is invalid' } };
      return { ok: true, manifest: manifest.data };
    },

    workerPids: () => pool.pids(),
    close: () => pool.close(),
  };
}
