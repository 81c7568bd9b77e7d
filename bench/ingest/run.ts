/**
 * Ingest benchmark: 100k ~1 KB contacts in pages of 1,000 on a fresh database.
 *   baseline  raw COPY into a records-shaped table (same indexes), one COPY per page
 *   ferry     RecordStore.saveBatch per page, new rows by COPY (via staging) and by JSON parameter (default)
 *   re-sync   the same 100k again: all unchanged (hashes looked up, nothing written), all changed
 *   e2e       one sync saving 100k through a real host: schedule → queue → isolate → bridge → store (BENCH_E2E=0 skips)
 * Each socket mode (postgres.js as host/db/connect.ts configures it, and with TCP_NODELAY) runs
 * in its own fresh database. Prints records/s beside the baseline and the host's peak RSS growth.
 * Run: npx node bench/ingest/run.ts   (BENCH_RECORDS, BENCH_PAGE, BENCH_MODES=default,nodelay)
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Sql } from '../../host/db/connect.ts';
import { createLogger } from '../../host/logger.ts';
import { escapeCopyText } from '../../host/store/records-copy.ts';
import { createRecordStore, type InsertMethod } from '../../host/store/records.ts';
import type { RecordBatch } from '../../runtime/contract.ts';
import { contactBatch } from './contacts.ts';
import { runEndToEnd, runRuntimeOnly } from './end-to-end.ts';
import { connectNoDelay, createBenchDatabase } from './fresh-db.ts';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 100_000);
const PAGE = Number(process.env.BENCH_PAGE ?? 1_000);
const MODES = (process.env.BENCH_MODES ?? 'default,nodelay').split(',');
const logger = createLogger({ level: process.env.FERRY_LOG_LEVEL ?? 'warn', name: 'bench-ingest' });

interface Figure { ms: number; rate: number; rssGrowthMb: number }

function rssSampler() {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 10);
  return { stop: () => { clearInterval(timer); return (Math.max(peak, process.memoryUsage.rss()) - base) / 2 ** 20; } };
}

/** Times only the writes; building each page (JSON + sha1: the isolate's job) is excluded. */
async function timePages(version: number, write: (batch: RecordBatch) => Promise<unknown>): Promise<Figure> {
  const rss = rssSampler();
  let ms = 0;
  for (let start = 0; start < TOTAL; start += PAGE) {
    const batch = contactBatch(start, Math.min(PAGE, TOTAL - start), version);
    const t = performance.now();
    await write(batch);
    ms += performance.now() - t;
  }
  return { ms, rate: (TOTAL / ms) * 1000, rssGrowthMb: rss.stop() };
}

async function rawCopy(sql: Sql, batch: RecordBatch): Promise<void> {
  let text = '';
  for (const r of batch.records) text += `1\tContact\t${escapeCopyText(r.id)}\t${escapeCopyText(r.json)}\t${r.hash}\n`;
  const writable = await sql.unsafe('copy bench_raw (connection_id, model, id, data, hash) from stdin').writable();
  await pipeline(Readable.from([text]), writable);
}

async function runMode(mode: string): Promise<Array<[string, Figure]>> {
  const db = await createBenchDatabase(logger);
  const sql = mode === 'nodelay' ? connectNoDelay(db.url) : db.sql;
  const figures: Array<[string, Figure]> = [];
  const checkpoint = () => sql`checkpoint`.catch(() => {});
  try {
    await sql.unsafe('create table bench_raw (like records including defaults including constraints including indexes)');
    await checkpoint();
    figures.push(['raw COPY (baseline)', await timePages(1, (batch) => rawCopy(sql, batch))]);
    const methods: InsertMethod[] = ['copy', 'json'];
    for (const [i, insertMethod] of methods.entries()) {
      const store = createRecordStore({ sql, logger, embedded: false, insertMethod });
      await checkpoint();
      figures.push([`saveBatch, new rows (${insertMethod})`, await timePages(1, (batch) => store.saveBatch({ connectionId: i + 1, batch }))]);
    }
    const store = createRecordStore({ sql, logger, embedded: false }); // default insert method
    await checkpoint();
    figures.push(['re-sync, all unchanged', await timePages(1, (batch) => store.saveBatch({ connectionId: 1, batch }))]);
    await checkpoint();
    figures.push(['re-sync, all changed', await timePages(2, (batch) => store.saveBatch({ connectionId: 1, batch }))]);
  } finally {
    if (sql !== db.sql) await sql.end();
    await db.drop();
  }
  return figures;
}

console.log(`ingest bench: ${TOTAL.toLocaleString('en')} records (~1 KB) in pages of ${PAGE}; store figures per socket mode, each on a fresh database`);
const print = (name: string, f: Figure, baseline: number | null) => {
  const rate = `${Math.round(f.rate).toLocaleString('en')} rec/s`.padStart(14);
  const ratio = baseline === null ? '' : `${((f.rate / baseline) * 100).toFixed(0).padStart(4)} % of raw COPY`;
  console.log(`  ${name.padEnd(40)} ${rate}  ${(f.ms / 1000).toFixed(1).padStart(5)} s  peak RSS +${f.rssGrowthMb.toFixed(0).padStart(3)} MB  ${ratio}`);
};
let bestCopy = 0;
for (const mode of MODES) {
  const figures = await runMode(mode);
  const baseline = figures[0]![1].rate;
  bestCopy = Math.max(bestCopy, baseline);
  console.log(`\n  socket: ${mode === 'nodelay' ? 'TCP_NODELAY' : 'as host/db/connect.ts (Nagle on)'}`);
  for (const [name, f] of figures) print(name, f, name.startsWith('raw') ? null : baseline);
}

if (process.env.BENCH_E2E !== '0') {
  // The target compares against the fastest raw COPY measured above (whichever socket mode).
  const db = await createBenchDatabase(logger);
  try {
    const e2e = await runEndToEnd(db.url, logger, TOTAL);
    if (e2e.saved !== TOTAL) throw new Error(`end-to-end run saved ${e2e.saved} of ${TOTAL}`);
    const alone = await runRuntimeOnly(logger, TOTAL);
    console.log(`\n  end to end through a real host (deploy → schedule → queue → isolate → bridge → store); target ≥ 50 % of the fastest raw COPY (${Math.round(bestCopy).toLocaleString('en')} rec/s), host RSS growth < 100 MB`);
    print(`one sync run (isolate heap ${e2e.peakHeapMb.toFixed(0)} MB)`, e2e, bestCopy);
    print('the runtime alone (bridge discards batches)', alone, bestCopy);
  } finally {
    await db.drop();
  }
}
