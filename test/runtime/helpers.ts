import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleScript } from '../../cli/bundle.ts';
import type { BatchResult, HostBridge, LogEntry, ProxyRequest, ProxyResponse, RecordBatch, RunJob } from '../../runtime/index.ts';

/** Bundles a script's source the way deploys do (cli/bundle.ts). */
export async function bundle(source: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-runtime-test-'));
  try {
    const entry = join(dir, 'script.ts');
    await writeFile(entry, source);
    return (await bundleScript(entry)).code;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function job(code: string, overrides: Partial<RunJob> = {}): RunJob {
  return {
    runId: 'run-1',
    code,
    kind: 'sync',
    limits: { memoryMb: 64, wallTimeMs: 10_000, cpuTimeMs: 5_000 },
    context: {
      lastSyncDate: null,
      isFullRun: true,
      connection: { connection_id: 'conn-1', provider: 'acme', connection_config: {}, metadata: null },
      checkpoint: null,
    },
    ...overrides,
  };
}

/** A bridge that records what it is asked and answers proxy calls with `onProxy`. */
export function recordingBridge(onProxy: (request: ProxyRequest) => Promise<ProxyResponse> | ProxyResponse = () => ({ status: 404, headers: {}, body: '' })) {
  const batches: RecordBatch[] = [];
  const streamedLogs: LogEntry[] = [];
  const proxied: ProxyRequest[] = [];
  const checkpoints: Array<Record<string, unknown> | null> = [];
  let metadata: Record<string, unknown> = {};
  const bridge: HostBridge = {
    async saveRecords(batch): Promise<BatchResult> {
      batches.push(batch);
      const added = batch.op === 'delete' ? 0 : batch.records.length;
      return { added, updated: 0, unchanged: 0, deleted: batch.op === 'delete' ? batch.records.length : 0, rejected: batch.rejected.length };
    },
    async proxy(request) {
      proxied.push(request);
      return onProxy(request);
    },
    log(entries) {
      streamedLogs.push(...entries);
    },
    async getMetadata() {
      return metadata;
    },
    async setMetadata(next, merge) {
      metadata = merge ? { ...metadata, ...next } : next;
    },
    async saveCheckpoint(checkpoint) {
      checkpoints.push(checkpoint);
    },
  };
  return { bridge, batches, streamedLogs, proxied, checkpoints, metadata: () => metadata };
}
