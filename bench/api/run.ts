/**
 * Records API benchmark: page through N (default 1M) ~1 KB records, 1,000 per page, over HTTP
 * (GET /records on a real host), beside raw postgres.js keyset reads of the same rows in the same
 * run: one sequential reader, then READERS (default 10) readers at once, each over its own slice.
 * Prints records/s and p50/p99 page latency for each, and the HTTP/raw ratio.
 * Targets (issue 17): one sequential HTTP reader ≥ 75 % of the raw rate; p99 page < 30 ms.
 * Run: npx node bench/api/run.ts   (BENCH_RECORDS, BENCH_PAGE, BENCH_PASSES, BENCH_READERS)
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '../../host/config.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry } from '../../host/server.ts';
import { escapeCopyText } from '../../host/store/records-copy.ts';
import { contactRecord } from '../ingest/contact-data.ts';
import { createBenchDatabase } from '../ingest/fresh-db.ts';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const PAGE = Number(process.env.BENCH_PAGE ?? 1_000);
const PASSES = Number(process.env.BENCH_PASSES ?? 2);
const READERS = Number(process.env.BENCH_READERS ?? 10);
const METADATA_KEY = Buffer.from('"_ferry_metadata":');
const KEY = 'fsk_bench_api_key_0123456789abcdef';
const logger = createLogger({ level: process.env.FERRY_LOG_LEVEL ?? 'warn', name: 'bench-api' });

interface Figure { records: number; ms: number; pageMs: number[] }

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

function describe(f: Figure) {
  const sorted = [...f.pageMs].sort((a, b) => a - b);
  return { rate: f.records / (f.ms / 1000), p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/** The best pass of several: the machine is shared, and the first pass also warms caches. */
async function best(label: string, pass: () => Promise<Figure>): Promise<Figure> {
  let top: Figure | null = null;
  for (let i = 0; i < PASSES; i++) {
    const f = await pass();
    if (f.records !== TOTAL) throw new Error(`${label}: read ${f.records} records, expected ${TOTAL}`);
    if (!top || f.ms < top.ms) top = f;
  }
  return top!;
}

const db = await createBenchDatabase(logger);
const host = await startFerry(loadConfig({
  DATABASE_URL: db.url, FERRY_PORT: '0', FERRY_SECRET_KEY: KEY, FERRY_ROLE: 'api', FERRY_RUNTIME_WORKERS: '1', FERRY_LOG_LEVEL: 'warn',
}), logger);
try {
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  await fetch(`${host.url}/providers/bench`, { method: 'PUT', headers, body: JSON.stringify({ base_url: 'http://127.0.0.1:9', auth: { type: 'none' } }) });
  const created = await fetch(`${host.url}/connections`, { method: 'POST', headers, body: JSON.stringify({ connection_id: 'bench', provider: 'bench' }) });
  if (created.status !== 201) throw new Error(`creating the connection: ${created.status} ${await created.text()}`);
  const [{ id: connectionId } = { id: '' }] = await db.sql<{ id: string }[]>`select id from connections where connection_id = 'bench'`;

  // N records straight into `records` by COPY (cursors drawn in insertion order), then ANALYZE.
  let started = performance.now();
  const CHUNK = 5_000;
  // One reserved connection: its queries run in order, so the count below waits for every COPY
  // (the COPY writable finishes when its data is sent, not when the server has applied it).
  const copier = await db.sql.reserve();
  for (let from = 0; from < TOTAL; from += CHUNK) {
    let text = '';
    for (let n = from; n < Math.min(TOTAL, from + CHUNK); n++) {
      const record = contactRecord(n);
      text += `${connectionId}\tContact\t${escapeCopyText(record.id)}\t${escapeCopyText(JSON.stringify(record))}\th${n}\n`;
    }
    const writable = await copier.unsafe('copy records (connection_id, model, id, data, hash) from stdin').writable();
    await pipeline(Readable.from([text]), writable);
  }
  const [{ n = 0 } = {}] = await copier<{ n: number }[]>`select count(*)::int as n from records`;
  copier.release();
  if (n !== TOTAL) throw new Error(`generated ${n} records, expected ${TOTAL}`);
  await db.sql.unsafe('vacuum analyze records');
  const [{ bytes = '0' } = {}] = await db.sql<{ bytes: string }[]>`select avg(pg_column_size(data))::int::text as bytes from (select data from records limit 1000) s`;
  process.stdout.write(`generated ${TOTAL.toLocaleString('en')} records (~${bytes} B of jsonb each) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

  // Readers page through `count` records after cursor `from` (exclusive). One reader reads them
  // all; under concurrency each of READERS readers reads its own slice, all at once.
  const [{ min = '1' } = {}] = await db.sql<{ min: string }[]>`select min(cursor)::text as min from records`;
  const before = (BigInt(min) - 1n).toString();
  type Reader = (from: string, count: number, pageMs: number[]) => Promise<number>;

  // Baseline: postgres.js keyset reads of the same rows (rows and jsonb parsed by the driver).
  const rawReader: Reader = async (from, count, pageMs) => {
    let cursor = from;
    let records = 0;
    while (records < count) {
      const t = performance.now();
      const rows = await db.sql<{ cursor: string; data: unknown }[]>`
        select cursor::text as cursor, data from records
        where connection_id = ${connectionId} and model = 'Contact' and cursor > ${cursor}::bigint
        order by records.cursor limit ${Math.min(PAGE, count - records)}`;
      pageMs.push(performance.now() - t);
      if (rows.length === 0) break;
      records += rows.length;
      cursor = rows.at(-1)!.cursor;
    }
    return records;
  };

  // Ferry: GET /records over HTTP (keep-alive), following next_cursor.
  const httpReader = (parse: boolean): Reader => async (from, count, pageMs) => {
    let cursor = from;
    let records = 0;
    while (records < count) {
      const t = performance.now();
      const response = await fetch(`${host.url}/records?connection_id=bench&model=Contact&limit=${Math.min(PAGE, count - records)}&cursor=${cursor}`, { headers });
      const body = Buffer.from(await response.arrayBuffer());
      if (response.status !== 200) throw new Error(`GET /records → ${response.status} ${body.toString('utf8', 0, 200)}`);
      let n = 0;
      if (parse) {
        const page = JSON.parse(body.toString('utf8')) as { records: unknown[]; next_cursor: string | null };
        n = page.records.length;
        cursor = page.next_cursor ?? cursor;
      } else {
        // Without a parse, the reader costs the server's process as little as it can: the body
        // ends with "next_cursor":"…"}, and each record carries one "_ferry_metadata" key.
        const tail = /"next_cursor":(?:"(\d+)"|null)}$/.exec(body.toString('latin1', Math.max(0, body.length - 64)));
        cursor = tail?.[1] ?? cursor;
        for (let at = body.indexOf(METADATA_KEY); at !== -1; at = body.indexOf(METADATA_KEY, at + METADATA_KEY.length)) n++;
      }
      pageMs.push(performance.now() - t);
      if (n === 0) break;
      records += n;
    }
    return records;
  };

  /** `readers` readers at once, each over its own slice of the TOTAL records. */
  const pass = (read: Reader, readers: number) => async (): Promise<Figure> => {
    const pageMs: number[] = [];
    const slice = Math.ceil(TOTAL / readers);
    started = performance.now();
    const counts = await Promise.all(Array.from({ length: readers }, (_, i) =>
      read((BigInt(before) + BigInt(i * slice)).toString(), Math.min(slice, TOTAL - i * slice), pageMs)));
    return { records: counts.reduce((a, b) => a + b, 0), ms: performance.now() - started, pageMs };
  };
  const raw = () => pass(rawReader, 1);
  const http = (parse: boolean) => pass(httpReader(parse), 1);

  const rawFigure = describe(await best('raw', raw()));
  const httpFigure = describe(await best('http', http(false)));
  const parsedFigure = describe(await best('http+parse', http(true)));
  const rawConcurrent = describe(await best('raw, concurrent', pass(rawReader, READERS)));
  const httpConcurrent = describe(await best('http, concurrent', pass(httpReader(false), READERS)));

  const row = (label: string, f: ReturnType<typeof describe>, baseline: ReturnType<typeof describe>) =>
    `| ${label} | ${Math.round(f.rate).toLocaleString('en')} | ${(f.rate / baseline.rate * 100).toFixed(0)} % | ${f.p50.toFixed(1)} | ${f.p99.toFixed(1)} |`;
  const ratio = httpFigure.rate / rawFigure.rate;
  process.stdout.write([
    '',
    `${TOTAL.toLocaleString('en')} records, ${PAGE} per page, best of ${PASSES} passes`,
    '| path | records/s | of raw | p50 page ms | p99 page ms |',
    '|---|---|---|---|---|',
    row('raw postgres.js keyset, one reader (baseline)', rawFigure, rawFigure),
    row('GET /records over HTTP, one reader', httpFigure, rawFigure),
    row('GET /records over HTTP + JSON.parse in the reader', parsedFigure, rawFigure),
    row(`raw postgres.js keyset, ${READERS} readers at once (baseline)`, rawConcurrent, rawConcurrent),
    row(`GET /records over HTTP, ${READERS} readers at once`, httpConcurrent, rawConcurrent),
    '',
    `target: one reader ≥ 75 % of raw → ${ratio >= 0.75 ? 'met' : 'NOT met'} (${(ratio * 100).toFixed(0)} %); p99 page < 30 ms → ${httpFigure.p99 < 30 ? 'met' : 'NOT met'}`,
    '',
  ].join('\n'));
} finally {
  await host.close();
  await db.drop();
}
