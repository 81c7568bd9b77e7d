/**
 * Parallel first sync benchmark: the first sync of BENCH_RECORDS (200k) records from a provider
 * answering pages of 1,000 after BENCH_PAGE_MS (≥ 100 ms, a realistic API's latency), once
 * sequentially (one run reads every page), once split into BENCH_PARTS time windows and once
 * into BENCH_PARTS keys its `split.partitions` lists from the provider (shards of the id range)
 * (docs/syncs.md#parallel-first-sync), on one host with 2 runtime worker processes
 * (BENCH_RUNTIME_WORKERS) against one fresh database. The sequential pass is the baseline,
 * measured in the same run: both read the same records through the same provider.
 *
 * Prints each pass's wall time (connection created → lastSyncDate set), records/s, the speedup
 * and the bound on it: runs at once = the runtime workers (each runs one isolate at a time), so
 * the split pass can be at most min(parts, workers)× sooner while latency dominates.
 *
 * Run: npx node bench/split/run.ts   (or npm run bench split)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { deployScripts } from '../../cli/deploy.ts';
import { loadConfig } from '../../host/config.ts';
import { generateEncryptionKey } from '../../host/crypto/cipher.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry } from '../../host/server.ts';
import { createApiClient } from '../../test/helpers/ferry.ts';
import { BENCH_ADMIN_URL, createBenchDatabase } from '../ingest/fresh-db.ts';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000);
const PAGE = 1000;
const PAGE_MS = Number(process.env.BENCH_PAGE_MS ?? 100);
const PARTS = Number(process.env.BENCH_PARTS ?? 4);
const RUNTIME_WORKERS = Number(process.env.BENCH_RUNTIME_WORKERS ?? 2);
const SECRET = 'fsk_bench_split_0123456789';
const DAY = 86_400_000;
const START = Date.parse('2024-01-01T00:00:00Z');

const logger = createLogger({ level: 'warn' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Record i is updated at START + i·step: ids and times sort alike, so a window is an id range. */
const now = Date.now();
const step = (now - START) / RECORDS;
const idOf = (i: number) => `r${String(i).padStart(7, '0')}`;
const server: Server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/shards') {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ shards: Array.from({ length: PARTS }, (_, k) => `shard-${k}`) }));
    }, PAGE_MS);
    return;
  }
  const from = url.searchParams.get('from');
  const to = url.searchParams.get('to');
  const after = url.searchParams.get('after');
  // A shard (a key split's part) is the k-th of PARTS equal id ranges.
  const shard = url.searchParams.get('shard');
  const k = shard ? Number(shard.slice('shard-'.length)) : null;
  const shardLo = k === null ? 0 : Math.floor((k * RECORDS) / PARTS);
  const shardHi = k === null ? RECORDS : Math.floor(((k + 1) * RECORDS) / PARTS);
  const lo = Math.max(from ? Math.ceil((Date.parse(from) - START) / step) : 0, after ? Number(after.slice(1)) + 1 : 0, shardLo);
  const hi = Math.min(RECORDS, to ? Math.ceil((Date.parse(to) - START) / step) : RECORDS, shardHi);
  const records: Array<{ id: string; name: string; email: string; updated_at: string }> = [];
  for (let i = lo; i < Math.min(hi, lo + PAGE); i++) records.push({ id: idOf(i), name: `record ${i}`, email: `r${i}@example.com`, updated_at: new Date(START + i * step).toISOString() });
  const next = lo + PAGE < hi ? idOf(lo + PAGE - 1) : null;
  setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ records, next }));
  }, PAGE_MS);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const providerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const sync = (split: string) => `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Row = z.object({ id: z.string(), name: z.string(), email: z.string(), updated_at: z.string() });
export default createSync({
  description: 'bench', frequency: 'every 1 day', syncType: 'full', models: { Row },
  limits: { wallTimeMs: 3_600_000 },
  ${split}
  exec: async (nango) => {
    const window = nango.partition;
    let after = ((await nango.getCheckpoint()) as { after?: string } | null)?.after ?? '';
    for (;;) {
      const params: Record<string, string> = {};
      if (after) params.after = after;
      if (window?.from) params.from = window.from.toISOString();
      if (window?.to) params.to = window.to.toISOString();
      if (window && !window.from && !window.to) params.shard = window.key;
      const res = await nango.get<{ records: Array<z.infer<typeof Row>>; next: string | null }>({ endpoint: '/records', params });
      await nango.batchSave(res.data.records, 'Row');
      if (!res.data.next) break;
      after = res.data.next;
      await nango.saveCheckpoint({ after });
    }
  },
});`;

const db = await createBenchDatabase(logger);
const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-split-'));
const url = new URL(BENCH_ADMIN_URL);
url.pathname = `/${db.name}`;
const everyDays = Math.ceil((now - START) / DAY / PARTS);
const files: Record<string, string> = {
  'seqp/syncs/rows.ts': sync(''),
  'splitp/syncs/rows.ts': sync(`split: { by: 'time', from: '${new Date(START).toISOString()}', every: '${everyDays} days' },`),
  'keysp/syncs/rows.ts': sync(`split: { by: 'keys', partitions: async (nango) => (await nango.get<{ shards: string[] }>({ endpoint: '/shards' })).data.shards },`),
};
for (const [path, source] of Object.entries(files)) {
  await mkdir(dirname(join(dir, 'scripts', path)), { recursive: true });
  await writeFile(join(dir, 'scripts', path), source);
}

const host = await startFerry(loadConfig({
  DATABASE_URL: url.toString(), FERRY_SECRET_KEY: SECRET, FERRY_ENCRYPTION_KEY: generateEncryptionKey(), FERRY_DATA_DIR: dir,
  FERRY_PORT: '0', FERRY_RUNTIME_WORKERS: String(RUNTIME_WORKERS), FERRY_SCHEDULER_TICK_MS: '200', FERRY_LOG_LEVEL: 'warn',
}), logger);
try {
  const api = createApiClient(host.url!, SECRET);
  await deployScripts({ dir: join(dir, 'scripts'), url: host.url!, key: SECRET });
  for (const provider of ['seqp', 'splitp', 'keysp']) await api.put(`/providers/${provider}`, { base_url: providerUrl, auth: { type: 'none' } });

  async function firstSync(provider: string): Promise<{ ms: number; records: number; runs: number }> {
    const started = Date.now();
    const created = await api.post('/connections', { connection_id: `bench-${provider}`, provider });
    if (created.status !== 201) throw new Error(`creating the connection: ${created.status} ${JSON.stringify(created.body)}`);
    for (;;) {
      const { body } = await api.get(`/syncs/rows/status?connection_id=bench-${provider}`);
      if (body.last_sync_date) break;
      if (body.last_run?.status === 'failed' && body.split_pass === null) throw new Error(`the ${provider} pass failed: ${JSON.stringify(body.last_run.error)}`);
      await sleep(100);
    }
    const ms = Date.now() - started;
    const [row] = await db.sql<{ records: number; runs: number }[]>`
      select (select count(*)::int from records r where r.connection_id = c.id) as records,
        (select count(*)::int from runs u where u.connection_id = c.id) as runs
      from connections c where c.connection_id = ${`bench-${provider}`}`;
    return { ms, ...row! };
  }

  process.stdout.write(`${RECORDS} records, pages of ${PAGE} after ${PAGE_MS} ms, ${RUNTIME_WORKERS} runtime worker processes\n`);
  const sequential = await firstSync('seqp');
  const split = await firstSync('splitp');
  const keys = await firstSync('keysp');
  for (const [name, r] of [['sequential (baseline)', sequential], [`split into ${PARTS} windows`, split], [`split into ${PARTS} keys`, keys]] as const) {
    if (r.records !== RECORDS) throw new Error(`${name}: ${r.records} records stored, expected ${RECORDS}`);
    process.stdout.write(`${name.padEnd(24)} ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${Math.round(r.records / (r.ms / 1000)).toLocaleString('en-US').padStart(9)} records/s  ${r.runs} run(s)\n`);
  }
  const bound = Math.min(PARTS, RUNTIME_WORKERS);
  process.stdout.write(`speedup: windows ${(sequential.ms / split.ms).toFixed(2)}×, keys ${(sequential.ms / keys.ms).toFixed(2)}× (bound while latency dominates: ${bound}×, runs at once = runtime workers; the key split also waits for its listing)\n`);
} finally {
  await host.close();
  server.close();
  await db.drop();
  await rm(dir, { recursive: true, force: true });
}
