/**
 * Ingest benchmark: N (default 100k) ~1 KB contacts in pages of 1,000 on a fresh database.
 *   baseline  raw COPY into a records-shaped table (same indexes), one COPY per page
 *   ferry     RecordStore.saveBatch per page, new rows by COPY (via staging) and by JSON parameter (default)
 *   re-sync   the same rows again: all unchanged (hashes looked up, nothing written), all changed
 *   e2e       one sync saving N through a real host: schedule → queue → isolate → bridge → store (BENCH_E2E=0 skips)
 * Each socket mode runs in its own fresh database: the host's client (host/db/connect.ts, TCP_NODELAY)
 * and postgres.js's own socket (Nagle on), to show what TCP_NODELAY earns. Prints records/s beside the
 * baseline, the host's peak RSS growth, and the CPU each process spent per 1,000 records (cpu-time.ts):
 * on a loaded machine rates move with the load, CPU per record much less.
 * Run: npx node bench/ingest/run.ts   (BENCH_RECORDS, BENCH_PAGE, BENCH_MODES=host,nagle; BENCH_MODES= runs only e2e,
 * in a fresh process so the host's RSS growth is its own, then raw COPY as its baseline; BENCH_RUNTIME_ALONE=0
 * skips the runtime-alone step)
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
import { cpuMeter, type CpuFigure } from './cpu-time.ts';
import { connectNagle, createBenchDatabase } from './fresh-db.ts';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 100_000);
const PAGE = Number(process.env.BENCH_PAGE ?? 1_000);
const MODES = (process.env.BENCH_MODES ?? 'host,nagle').split(',').filter(Boolean);
const logger = createLogger({ level: process.env.FERRY_LOG_LEVEL ?? 'warn', name: 'bench-ingest' });

interface Figure { ms: number; rate: number; rssGrowthMb: number; cpu: CpuFigure | null }

function rssSampler() {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 10);
  return { stop: () => { clearInterval(timer); return (Math.max(peak, process.memoryUsage.rss()) - base) / 2 ** 20; } };
}

/** Times only the writes; building each page (JSON + sha1: the isolate's job) is excluded. */
async function timePages(sql: Sql, version: number, write: (batch: RecordBatch) => Promise<unknown>): Promise<Figure> {
  const rss = rssSampler();
  const cpu = await cpuMeter(sql);
  let ms = 0;
  let hostMicros = 0;
  for (let start = 0; start < TOTAL; start += PAGE) {
    const batch = contactBatch(start, Math.min(PAGE, TOTAL - start), version);
    const t = performance.now();
    const before = process.cpuUsage();
    await write(batch);
    const spent = process.cpuUsage(before);
    hostMicros += spent.user + spent.system;
    ms += performance.now() - t;
  }
  const cpuFigure = await cpu();
  // Building the pages (the isolate's job) is not the store's: this process's CPU counts only during writes.
  return { ms, rate: (TOTAL / ms) * 1000, rssGrowthMb: rss.stop(), cpu: cpuFigure && { hostMs: hostMicros / 1000, workersMs: NaN, postgresMs: cpuFigure.postgresMs } };
}

async function rawCopy(sql: Sql, batch: RecordBatch): Promise<void> {
  let text = '';
  for (const r of batch.records) text += `1\tContact\t${escapeCopyText(r.id)}\t${escapeCopyText(r.json)}\t${r.hash}\n`;
  const writable = await sql.unsafe('copy bench_raw (connection_id, model, id, data, hash) from stdin').writable();
  await pipeline(Readable.from([text]), writable);
}

async function runMode(mode: string): Promise<Array<[string, Figure]>> {
  const db = await createBenchDatabase(logger);
  const sql = mode === 'nagle' ? connectNagle(db.url) : db.sql;
  const figures: Array<[string, Figure]> = [];
  const checkpoint = () => sql`checkpoint`.catch(() => {});
  try {
    await sql.unsafe('create table bench_raw (like records including defaults including constraints including indexes)');
    await checkpoint();
    figures.push(['raw COPY (baseline)', await timePages(sql, 1, (batch) => rawCopy(sql, batch))]);
    const methods: InsertMethod[] = ['copy', 'json'];
    for (const [i, insertMethod] of methods.entries()) {
      const store = createRecordStore({ sql, logger, embedded: false, insertMethod });
      await checkpoint();
      figures.push([`saveBatch, new rows (${insertMethod})`, await timePages(sql, 1, (batch) => store.saveBatch({ connectionId: i + 1, batch }))]);
    }
    const store = createRecordStore({ sql, logger, embedded: false }); // default insert method
    await checkpoint();
    figures.push(['re-sync, all unchanged', await timePages(sql, 1, (batch) => store.saveBatch({ connectionId: 1, batch }))]);
    await checkpoint();
    figures.push(['re-sync, all changed', await timePages(sql, 2, (batch) => store.saveBatch({ connectionId: 1, batch }))]);
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
  console.log(`  ${name.padEnd(44)} ${rate}  ${(f.ms / 1000).toFixed(1).padStart(5)} s  peak RSS +${f.rssGrowthMb.toFixed(0).padStart(3)} MB  ${cpuText(f.cpu)}  ${ratio}`);
};
/** CPU ms per 1,000 records, per process: what a step costs whatever the machine's load. */
const cpuText = (cpu: CpuFigure | null) => {
  if (!cpu) return '';
  const per = (ms: number) => (Number.isNaN(ms) ? '   -' : ((ms / TOTAL) * 1000).toFixed(1).padStart(4));
  return `CPU/1k: pg ${per(cpu.postgresMs)} host ${per(cpu.hostMs)} workers ${per(cpu.workersMs)} ms`;
};
let bestCopy = 0;
for (const mode of MODES) {
  const figures = await runMode(mode);
  const baseline = figures[0]![1].rate;
  bestCopy = Math.max(bestCopy, baseline);
  console.log(`\n  socket: ${mode === 'nagle' ? "postgres.js's own (Nagle on)" : 'as host/db/connect.ts (TCP_NODELAY)'}`);
  for (const [name, f] of figures) print(name, f, name.startsWith('raw') ? null : baseline);
}

if (process.env.BENCH_E2E !== '0') {
  // The target compares against the fastest raw COPY measured above (whichever socket mode); with
  // BENCH_MODES= the e2e run goes first, in a fresh process (so its RSS growth is its own), and
  // raw COPY is measured after it, on its own fresh database.
  const db = await createBenchDatabase(logger);
  try {
    const rssAtStart = process.memoryUsage.rss() / 2 ** 20;
    const e2e = await runEndToEnd(db, logger, TOTAL);
    if (e2e.saved !== TOTAL) throw new Error(`end-to-end run saved ${e2e.saved} of ${TOTAL}`);
    // Printed at once: a later step failing (the shared machine's Postgres out of connections) must not lose it.
    print('one sync run, as measured before the steps below', e2e, null);
    // BENCH_RUNTIME_ALONE=0 skips it: the targets compare only the sync run with raw COPY.
    const alone = process.env.BENCH_RUNTIME_ALONE === '0' ? null : await runRuntimeOnly(db.sql, logger, TOTAL);
    let baseline: Figure | null = null;
    if (bestCopy === 0) {
      const raw = await createBenchDatabase(logger);
      try {
        await raw.sql.unsafe('create table bench_raw (like records including defaults including constraints including indexes)');
        await raw.sql`checkpoint`.catch(() => {});
        baseline = await timePages(raw.sql, 1, (batch) => rawCopy(raw.sql, batch));
        bestCopy = baseline.rate;
      } finally {
        await raw.drop();
      }
    }
    console.log(`\n  end to end through a real host (deploy → schedule → queue → isolate → bridge → store); target ≥ 70 % of the fastest raw COPY (${Math.round(bestCopy).toLocaleString('en')} rec/s), host RSS growth < 100 MB (host RSS was ${rssAtStart.toFixed(0)} MB when the run started)`);
    print(`one sync run (isolate heap ${e2e.peakHeapMb.toFixed(0)} MB)`, e2e, bestCopy);
    if (alone) print('the runtime alone (bridge discards batches)', alone, bestCopy);
    if (baseline) print('raw COPY (baseline, measured after)', baseline, null);
  } finally {
    await db.drop();
  }
}
