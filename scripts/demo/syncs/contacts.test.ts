/**
 * The contacts sync, bundled as deploy would and run in the real runtime (isolate in a worker
 * process) against a live demo CRM: the first run reads everything, the next only what changed.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bundleScript } from '../../../cli/bundle.ts';
import { startDemoProvider, type Contact, type DemoProvider } from '../../../demo/provider.ts';
import { createLogger } from '../../../host/logger.ts';
import { createRuntime, type HostBridge, type LogEntry, type RecordBatch, type RunJob, type Runtime } from '../../../runtime/index.ts';
import { forwardToProvider } from '../../../test/demo/direct-proxy.ts';

const CONTACTS = 260; // three pages of 100

let provider: DemoProvider;
let runtime: Runtime;
let code: string;

beforeAll(async () => {
  code = (await bundleScript(join(import.meta.dirname, 'contacts.ts'))).code;
  runtime = createRuntime({ workers: 1, logger: createLogger({ level: 'silent' }) });
});
afterAll(async () => {
  await runtime?.close();
});
beforeEach(async () => {
  provider = await startDemoProvider({ apiKey: 'crm-key', contacts: CONTACTS, seed: 42 });
});
afterEach(async () => {
  await provider.close();
});

function collectingBridge() {
  const batches: RecordBatch[] = [];
  const logs: LogEntry[] = [];
  const bridge: HostBridge = {
    proxy: (request) => forwardToProvider(provider, request),
    async saveRecords(batch) {
      batches.push(batch);
      return { added: batch.records.length, updated: 0, unchanged: 0, deleted: 0, rejected: batch.rejected.length };
    },
    log: (entries) => logs.push(...entries),
    getMetadata: async () => ({}),
    setMetadata: async () => {},
    saveCheckpoint: async () => {},
  };
  const saved = () => batches.flatMap((b) => b.records.map((r) => JSON.parse(r.json) as Contact));
  return { bridge, batches, logs, saved };
}

function job(lastSyncDate: Date | null): RunJob {
  return {
    runId: `test-${Date.now()}`,
    code,
    kind: 'sync',
    limits: { memoryMb: 64, wallTimeMs: 30_000 },
    context: {
      lastSyncDate: lastSyncDate?.toISOString() ?? null,
      isFullRun: lastSyncDate === null,
      connection: { connection_id: 'conn-1', provider: 'demo', connection_config: {}, metadata: null },
      checkpoint: null,
    },
  };
}

describe('demo contacts sync', () => {
  it('reads every contact on the first run, then only the ones changed since lastSyncDate', async () => {
    const first = collectingBridge();
    const firstStart = new Date();
    const firstResult = await runtime.run(job(null), first.bridge);
    expect(firstResult).toMatchObject({ ok: true });

    const ids = first.saved().map((c) => c.id);
    expect(ids).toHaveLength(CONTACTS);
    expect(new Set(ids)).toEqual(new Set(provider.contacts().map((c) => c.id)));
    // One batchSave per page: the script never holds more than a page.
    expect(first.batches.map((b) => b.records.length)).toEqual([100, 100, 60]);
    expect(first.batches.every((b) => b.model === 'Contact' && b.rejected.length === 0)).toBe(true);
    expect(provider.requests.every((r) => !('updated_since' in r.query))).toBe(true);
    expect(first.logs.map((l) => l.message)).toContain(`Saved ${CONTACTS} contacts in 3 page(s)`);

    const updated = provider.updateContacts(5);
    const added = provider.addContacts(2);
    provider.requests.length = 0;

    const second = collectingBridge();
    const secondResult = await runtime.run(job(firstStart), second.bridge);
    expect(secondResult).toMatchObject({ ok: true });
    expect(second.saved().map((c) => c.id).sort()).toEqual([...updated, ...added].sort());
    expect(provider.requests).toEqual([
      expect.objectContaining({ method: 'GET', path: '/v1/contacts', query: { limit: '100', updated_since: firstStart.toISOString() }, status: 200 }),
    ]);
  });

  it('saves the changed fields as the provider now has them', async () => {
    const since = new Date();
    const [id] = provider.updateContacts(1);
    const bridge = collectingBridge();
    expect(await runtime.run(job(since), bridge.bridge)).toMatchObject({ ok: true });
    expect(bridge.saved()).toEqual(provider.contacts().filter((c) => c.id === id));
  });

  it('fails the run with the provider error when the provider keeps answering 500', async () => {
    provider.failNext(500, 100);
    const bridge = collectingBridge();
    const result = await runtime.run(job(null), bridge.bridge);
    expect(result).toMatchObject({ ok: false, error: { kind: 'script', message: expect.stringContaining('500') } });
    expect(bridge.batches).toHaveLength(0);
  });
});
