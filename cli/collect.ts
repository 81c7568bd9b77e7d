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

/** A page of a model's live records on the host; `next` is null after the last. */
export type HostRecordsReader = (model: string, cursor: string | null, limit: number) => Promise<{ records: Array<Record<string, unknown>>; next: string | null }>;

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
  /** Records the host already holds, per model (what trackDeletesEnd may delete). */
  records?: Record<string, ReadonlyArray<{ id: string | number }>>;
  /**
   * The host's live records of the model that the walk did not see (ferry dryrun), given what it
   * saw: trackDeletesEnd reports them as the host would delete them. `count` is exact; `ids` may
   * be the first of them only.
   */
  hostUnseen?: (model: string, seen: string[]) => Promise<{ count: number; ids: string[] }>;
  /**
   * One page of the host's live records of the model (ferry dryrun), after `cursor` (null = the
   * first): listRecords reads them with this run's writes applied, as the host's listRecords does.
   */
  hostRecords?: HostRecordsReader;
}): { bridge: HostBridge; collected: Collected } {
  const models = new Map<string, ModelRecords>();
  const modelOf = (name: string): ModelRecords => {
    let model = models.get(name);
    if (!model) models.set(name, (model = { records: new Map(), saved: 0, updated: 0, deleted: 0, deletedIds: [], rejected: [] }));
    return model;
  };
  for (const [name, records] of Object.entries(options.records ?? {})) {
    for (const record of records) modelOf(name).records.set(String(record.id), record);
  }
  /** trackDeletesStart windows: the ids saved or updated since, per model (as the host's run bridge keeps them). */
  const windows = new Map<string, Set<string>>();
  const stateWrites: StateWrite[] = [];
  let metadata = { ...options.metadata };
  /** Per model, the ids the current listRecords walk met on the host (so this run's own new records follow them once). */
  const walks = new Map<string, Set<string>>();

  /**
   * A walk over the host's pages, each record replaced by this run's write of it (or left out if
   * this run deleted it), then this run's records the host did not hold. The cursor says which
   * part the walk is in: `host:<host cursor>` or `run:<offset>`.
   */
  async function listOverHost(read: HostRecordsReader, name: string, cursor: string | null, limit: number) {
    const model = models.get(name);
    if (cursor === null || cursor.startsWith('host:')) {
      if (cursor === null) walks.set(name, new Set());
      const met = walks.get(name) ?? new Set<string>();
      const page = await read(name, cursor === null ? null : cursor.slice('host:'.length), limit);
      const deleted = new Set(model?.deletedIds);
      const records: Array<Record<string, unknown>> = [];
      for (const record of page.records) {
        const id = String(record['id']);
        met.add(id);
        const own = model?.records.get(id);
        if (own !== undefined) records.push(own as Record<string, unknown>);
        else if (!deleted.has(id)) records.push(record);
      }
      return { records, next: page.next === null ? 'run:0' : `host:${page.next}` };
    }
    const met = walks.get(name) ?? new Set<string>();
    const fresh = [...(model?.records.entries() ?? [])].filter(([id]) => !met.has(id)).map(([, record]) => record as Record<string, unknown>);
    const page = pageOf(fresh, Number(cursor.slice('run:'.length)), limit);
    return { records: page.records, next: page.next === null ? null : `run:${page.next}` };
  }

  const bridge: HostBridge = {
    proxy: options.proxy,
    async saveRecords(batch: RecordBatch): Promise<BatchResult> {
      const model = modelOf(batch.model);
      const window = windows.get(batch.model);
      const result: BatchResult = { added: 0, updated: 0, unchanged: 0, deleted: 0, rejected: batch.rejectedCount ?? batch.rejected.length };
      for (const record of batch.records) {
        if (batch.op === 'delete') {
          // Already gone (trackDeletesEnd deleted it): the host would find nothing left to delete.
          if (model.deletedIds.includes(record.id) && !model.records.has(record.id)) continue;
          model.records.delete(record.id);
          model.deleted++;
          model.deletedIds.push(record.id);
          result.deleted++;
          continue;
        }
        window?.add(record.id);
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
    // The records the host would hold now (those it held, this run's writes applied), in the order first saved.
    async listRecords(name, cursor, limit) {
      if (options.hostRecords) return listOverHost(options.hostRecords, name, cursor, limit);
      return pageOf([...(models.get(name)?.records.values() ?? [])] as Array<Record<string, unknown>>, cursor === null ? 0 : Number(cursor), limit);
    },
    // The host's semantics (host/sync/run-bridge.ts): records of the model not saved between
    // start and end are deleted at end; an end without its start is an error.
    async trackDeletes(name, phase) {
      if (phase === 'start') {
        windows.set(name, new Set());
        return;
      }
      const window = windows.get(name);
      if (!window) throw new Error(`trackDeletesEnd("${name}") without trackDeletesStart("${name}")`);
      windows.delete(name);
      const model = modelOf(name);
      // Records the host holds that this run never touched are unseen too: the host deletes them.
      if (options.hostUnseen) {
        const seen = new Set([...window, ...model.records.keys(), ...model.deletedIds]);
        const unseen = await options.hostUnseen(name, [...seen]);
        model.deleted += unseen.count;
        model.deletedIds.push(...unseen.ids);
      }
      for (const id of [...model.records.keys()]) {
        if (window.has(id)) continue;
        model.records.delete(id);
        model.deleted++;
        model.deletedIds.push(id);
      }
    },
  };
  return { bridge, collected: { models, stateWrites, metadata: () => metadata } };
}

function pageOf(all: Array<Record<string, unknown>>, start: number, limit: number) {
  return { records: all.slice(start, start + limit), next: start + limit < all.length ? String(start + limit) : null };
}
