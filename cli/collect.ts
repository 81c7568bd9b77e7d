/**
 * A HostBridge that keeps everything in memory instead of writing it: what `ferry dryrun` and
 * the `ferry/testing` harness hand the runtime. Records end up as the host would hold them
 * (last write per id wins, updates merge, deletes remove); checkpoints and metadata writes are
 * kept in order so a caller can show or assert them.
 */
import type { BatchResult, HostBridge, LogEntry, ProxyRequest, ProxyResponse, RecordBatch } from '@ferry/runtime/contract';

export interface ModelRecords {
  /** Saved or updated records, last write per id wins. */
  records: Map<string, unknown>;
  saved: number;
  updated: number;
  deleted: number;
  /** Ids passed to batchDelete, in order. */
  deletedIds: string[];
  rejected: Array<{ id: string | null; reason: string }>;
}

export type StateWrite = { kind: 'metadata' | 'checkpoint'; value: unknown };

export interface Collected {
  models: Map<string, ModelRecords>;
  stateWrites: StateWrite[];
  /** The metadata as the script last left it. */
  metadata(): Record<string, unknown>;
}

export function createCollectingBridge(options: {
  proxy: (request: ProxyRequest) => Promise<ProxyResponse>;
  metadata?: Record<string, unknown>;
  onLog?: ((entries: LogEntry[]) => void) | undefined;
}): { bridge: HostBridge; collected: Collected } {
  const models = new Map<string, ModelRecords>();
  const stateWrites: StateWrite[] = [];
  let metadata = { ...options.metadata };
  const bridge: HostBridge = {
    proxy: options.proxy,
    async saveRecords(batch: RecordBatch): Promise<BatchResult> {
      let model = models.get(batch.model);
      if (!model) models.set(batch.model, (model = { records: new Map(), saved: 0, updated: 0, deleted: 0, deletedIds: [], rejected: [] }));
      const result: BatchResult = { added: 0, updated: 0, unchanged: 0, deleted: 0, rejected: batch.rejectedCount ?? batch.rejected.length };
      for (const record of batch.records) {
        if (batch.op === 'delete') {
          model.records.delete(record.id);
          model.deleted++;
          model.deletedIds.push(record.id);
          result.deleted++;
          continue;
        }
        const data: unknown = JSON.parse(record.json);
        const previous = model.records.get(record.id);
        model.records.set(record.id, batch.op === 'update' && previous ? { ...(previous as object), ...(data as object) } : data);
        if (batch.op === 'save') model.saved++;
        else model.updated++;
        if (previous === undefined) result.added++;
        else result.updated++;
      }
      model.rejected.push(...batch.rejected);
      return result;
    },
    log(entries) {
      options.onLog?.(entries);
    },
    async getMetadata() {
      return metadata;
    },
    async setMetadata(value, merge) {
      metadata = merge ? { ...metadata, ...value } : { ...value };
      stateWrites.push({ kind: 'metadata', value: metadata });
    },
    async saveCheckpoint(checkpoint) {
      stateWrites.push({ kind: 'checkpoint', value: checkpoint });
    },
  };
  return { bridge, collected: { models, stateWrites, metadata: () => metadata } };
}
