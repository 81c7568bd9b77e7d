/**
 * Records API benchmark: page through N (default 1M) ~1 KB records, 1,000 per page, over HTTP
 * (GET /records on a real host in its own process, bench/api/host.ts), beside raw postgres.js
 * keyset reads of the same rows in the same run: one sequential reader, then READERS (default 10)
 * readers at once, each over its own slice.
 * Each HTTP path is compared with the raw path whose reader does the same work with what it gets:
 * both parse every record into objects (the driver parses the jsonb; the HTTP reader JSON.parses
 * the page), or neither does (raw takes each row's bytes; the HTTP reader only counts the records).
 * Same rows, same page size, same fields (the HTTP page adds _ferry_metadata, which is its job).
 * Prints records/s, p50/p99 page latency, the ratio to its baseline, and CPU ms per page of the
 * reader (this process), the host process and the Postgres backends of the bench database.
 * Targets (issue 17): GET /records ≥ 75 % of raw; p99 page < 30 ms; also with 10 readers. The
 * app's path, @ferry/client (which parses each record as it arrives and asks for the next page before
 * the app handles this one), is measured
 * beside the bare one-page-at-a-time HTTP reader, against the same parsed baseline.
 * Run: npx node bench/api/run.ts   (BENCH_RECORDS, BENCH_PAGE, BENCH_PASSES, BENCH_READERS;
 * BENCH_HOST_PROF=dir writes a --cpu-prof of the host process there; BENCH_HOST_NODE_ARGS adds Node
 * flags to the host's, e.g. --trace-gc)
 */
import { fork } from 'node:child_process';
import { Agent, get } from 'node:http';
import { loadavg } from 'node:os';
import { createFerryClient } from '../../client/index.ts';
import { connectDatabase } from '../../host/db/connect.ts';
import { createLogger } from '../../host/logger.ts';
import { cpuMeter } from '../ingest/cpu-time.ts';
import { createBenchDatabase } from '../ingest/fresh-db.ts';
import { copyContacts } from './contacts.ts';
import { epochNow, slowPagesReport, watchGc, type GcPauses, type PageSpan } from './slow-pages.ts';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const PAGE = Number(process.env.BENCH_PAGE ?? 1_000);
const PASSES = Number(process.env.BENCH_PASSES ?? 2);
const READERS = Number(process.env.BENCH_READERS ?? 10);
const METADATA_KEY = Buffer.from('"_ferry_metadata":');
const KEY = 'fsk_bench_api_key_0123456789abcdef';
const logger = createLogger({ level: process.env.FERRY_LOG_LEVEL ?? 'warn', name: 'bench-api' });

/** CPU ms per page: this process (the reader), the host's process, the Postgres backends. */
interface CpuPerPage { reader: number; host: number; postgres: number }
interface Figure { records: number; ms: number; pageMs: number[]; cpu: CpuPerPage | null }

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

function describe(f: Figure) {
  const sorted = [...f.pageMs].sort((a, b) => a - b);
  return { rate: f.records / (f.ms / 1000), p50: percentile(sorted, 50), p99: percentile(sorted, 99), cpu: f.cpu };
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
const hostProcess = fork(new URL('./host.ts', import.meta.url), {
  env: { ...process.env, DATABASE_URL: db.url, FERRY_SECRET_KEY: KEY },
  execArgv: [
    ...process.execArgv,
    ...(process.env.BENCH_HOST_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_HOST_PROF}`] : []),
    ...(process.env.BENCH_HOST_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
  ],
});
let closeRaw = async () => {};
const hostExited = new Promise<void>((resolve) => hostProcess.once('exit', () => resolve()));
try {
  const host = await new Promise<{ url: string }>((resolve, reject) => {
    hostProcess.once('message', (m) => resolve(m as { url: string }));
    hostProcess.once('exit', (code) => reject(new Error(`the bench host exited (${code}) before listening`)));
  });
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  /** The host's collections since `from` (epoch ms), asked of its process (host.ts). */
  const hostPauses = (from: number) => new Promise<GcPauses>((resolve) => {
    const onMessage = (m: unknown) => {
      const reply = m as { gc?: GcPauses };
      if (!reply.gc) return;
      hostProcess.off('message', onMessage);
      resolve(reply.gc.filter(([, end]) => end >= from));
    };
    hostProcess.on('message', onMessage);
    hostProcess.send('gc');
  });
  await fetch(`${host.url}/providers/bench`, { method: 'PUT', headers, body: JSON.stringify({ base_url: 'http://127.0.0.1:9', auth: { type: 'none' } }) });
  const created = await fetch(`${host.url}/connections`, { method: 'POST', headers, body: JSON.stringify({ connection_id: 'bench', provider: 'bench' }) });
  if (created.status !== 201) throw new Error(`creating the connection: ${created.status} ${await created.text()}`);
  const [{ id: connectionId } = { id: '' }] = await db.sql<{ id: string }[]>`select id from connections where connection_id = 'bench'`;

  let started = performance.now();
  await copyContacts(db.sql, connectionId, TOTAL);
  const [{ bytes = '0' } = {}] = await db.sql<{ bytes: string }[]>`select avg(pg_column_size(data))::int::text as bytes from (select data from records limit 1000) s`;
  process.stdout.write(`generated ${TOTAL.toLocaleString('en')} records (~${bytes} B of jsonb each) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

  // Readers page through `count` records after cursor `from` (exclusive). One reader reads them
  // all; under concurrency each of READERS readers reads its own slice, all at once.
  const [{ min = '1' } = {}] = await db.sql<{ min: string }[]>`select min(cursor)::text as min from records`;
  const before = (BigInt(min) - 1n).toString();
  type Reader = (from: string, count: number, pageMs: number[]) => Promise<number>;

  // Baselines: postgres.js keyset reads of the same rows, jsonb parsed by the driver or as bytes,
  // on a pool like the host's (one connection per reader, up to its 10) and its client settings.
  const rawDb = await connectDatabase({ databaseUrl: db.url, logger, maxConnections: Math.max(10, READERS) });
  closeRaw = () => rawDb.close();
  const rawReader = (parse: boolean): Reader => async (from, count, pageMs) => {
    let cursor = from;
    let records = 0;
    while (records < count) {
      const t = performance.now();
      const query = rawDb.sql<{ cursor: string; data: unknown }[]>`
        select cursor::text as cursor, data from records
        where connection_id = ${connectionId} and model = 'Contact' and cursor > ${cursor}::bigint
        order by records.cursor limit ${Math.min(PAGE, count - records)}`;
      // Unparsed: each row's columns as the bytes Postgres sent (the jsonb as it prints it), as
      // the unparsed HTTP reader keeps the body's bytes.
      const rows = parse ? await query : await query.raw();
      pageMs.push(performance.now() - t);
      if (rows.length === 0) break;
      records += rows.length;
      const last = rows.at(-1)!;
      cursor = Array.isArray(last) ? String(last[0]) : last.cursor;
    }
    return records;
  };

  // The HTTP client: node:http with a keep-alive agent, the body gathered as the bytes arrive. It
  // costs the reader about what the driver costs the raw reader; fetch (undici's web streams)
  // costs ~4× that per page, which would measure the client rather than Ferry.
  const agent = new Agent({ keepAlive: true, maxSockets: READERS });
  // A kept-alive socket the host closes (idle past its keepAliveTimeout, 5 s) just as a request
  // reuses it fails with ECONNRESET before any response: Node's documented race, retried once as
  // Node's docs advise (request.reusedSocket). A reader that finished its slice early leaves its
  // socket idle that long under load. @ferry/client's fetch retries reads itself.
  // Time to first byte per page (request sent → first body bytes), beside the whole page's time:
  // the page is streamed as Postgres sends its rows, so the first bytes come long before the last.
  const firstByteMs: number[] = [];
  interface Got { status: number; body: Buffer; sent: number; firstByte: number; lastByte: number }
  const getPage = (url: string, retried = false): Promise<Got> => new Promise((resolve, reject) => {
    const sent = epochNow();
    let firstByte = sent;
    const req = get(url, { agent, headers: { authorization: headers.authorization } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        if (chunks.length === 0) firstByteMs.push((firstByte = epochNow()) - sent);
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), sent, firstByte, lastByte: epochNow() }));
      res.on('error', reject);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!retried && req.reusedSocket && err.code === 'ECONNRESET') resolve(getPage(url, true));
      else reject(err);
    });
  });

  // Ferry: GET /records over HTTP (keep-alive), following next_cursor. Each page's steps are kept
  // for the slow-page report (slow-pages.ts).
  const spans: PageSpan[] = [];
  const httpReader = (parse: boolean): Reader => async (from, count, pageMs) => {
    let cursor = from;
    let records = 0;
    while (records < count) {
      const t = performance.now();
      const response = await getPage(`${host.url}/records?connection_id=bench&model=Contact&limit=${Math.min(PAGE, count - records)}&cursor=${cursor}`);
      const body = response.body;
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
      spans.push({ sent: response.sent, firstByte: response.firstByte, lastByte: response.lastByte, parsed: epochNow() });
      if (n === 0) break;
      records += n;
    }
    return records;
  };

  // What apps use: @ferry/client's pages (fetch, each record parsed as it arrives), which asks for
  // the next page before handing this one on. A page's time is how long the reader waited for it,
  // parsed. A reader that stops at the end of its slice cancels the page it asked for ahead (the
  // host built it anyway).
  const client = createFerryClient({ url: host.url, secretKey: KEY });
  const clientReader: Reader = async (from, count, pageMs) => {
    let records = 0;
    const pages = client.recordPages({ connectionId: 'bench', model: 'Contact', limit: PAGE, cursor: from })[Symbol.asyncIterator]();
    try {
      while (records < count) {
        const t = performance.now();
        const next = await pages.next();
        pageMs.push(performance.now() - t);
        if (next.done) break;
        records += next.value.records.length;
      }
    } finally {
      await pages.return?.();
    }
    return records;
  };

  /** `readers` readers at once, each over its own slice of the TOTAL records. */
  const pass = (read: Reader, readers: number) => async (): Promise<Figure> => {
    const pageMs: number[] = [];
    const slice = Math.ceil(TOTAL / readers);
    const meter = await cpuMeter(db.sql);
    started = performance.now();
    const counts = await Promise.all(Array.from({ length: readers }, (_, i) =>
      read((BigInt(before) + BigInt(i * slice)).toString(), Math.min(slice, TOTAL - i * slice), pageMs)));
    const ms = performance.now() - started;
    // cpuMeter's "host" is this process (here the reader) and its "workers" its children (the host).
    const used = await meter();
    const perPage = (cpuMs: number) => cpuMs / pageMs.length;
    const cpu = used && { reader: perPage(used.hostMs), host: perPage(used.workersMs), postgres: perPage(used.postgresMs) };
    return { records: counts.reduce((a, b) => a + b, 0), ms, pageMs, cpu };
  };

  const rawParsed = describe(await best('raw, parsed', pass(rawReader(true), 1)));
  firstByteMs.length = 0;
  spans.length = 0;
  const readerGc = watchGc();
  const hostGcFrom = epochNow();
  const httpParsedFigure = await best('http + JSON.parse', pass(httpReader(true), 1));
  readerGc.stop();
  const parsedSpans = [...spans];
  const hostGc = await hostPauses(hostGcFrom);
  const firstBytes = [...firstByteMs].sort((a, b) => a - b);
  const httpParsed = describe(httpParsedFigure);
  const clientParsed = describe(await best('@ferry/client', pass(clientReader, 1)));
  const rawText = describe(await best('raw, text', pass(rawReader(false), 1)));
  const httpBytes = describe(await best('http, unparsed', pass(httpReader(false), 1)));
  const rawConcurrent = describe(await best('raw, parsed, concurrent', pass(rawReader(true), READERS)));
  const httpConcurrent = describe(await best('http + JSON.parse, concurrent', pass(httpReader(true), READERS)));
  const clientConcurrent = describe(await best('@ferry/client, concurrent', pass(clientReader, READERS)));

  type Described = ReturnType<typeof describe>;
  const cpuCells = (f: Described) => f.cpu ? [f.cpu.reader, f.cpu.host, f.cpu.postgres].map((ms) => ms.toFixed(2)).join(' | ') : 'n/a | n/a | n/a';
  const row = (label: string, f: Described, baseline: Described) =>
    `| ${label} | ${Math.round(f.rate).toLocaleString('en')} | ${(f.rate / baseline.rate * 100).toFixed(0)} % | ${f.p50.toFixed(1)} | ${f.p99.toFixed(1)} | ${cpuCells(f)} |`;
  const verdict = (label: string, f: Described, baseline: Described) => {
    const ratio = f.rate / baseline.rate;
    return `${label}: ${(ratio * 100).toFixed(0)} % of raw → ${ratio >= 0.75 ? 'met' : 'NOT met'}; p99 ${f.p99.toFixed(1)} ms → ${f.p99 < 30 ? 'met' : 'NOT met'} (raw's own p99 ${baseline.p99.toFixed(1)} ms)`;
  };
  process.stdout.write([
    '',
    `${TOTAL.toLocaleString('en')} records, ${PAGE} per page, best of ${PASSES} passes; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
    '| path | records/s | of its baseline | p50 page ms | p99 page ms | CPU ms/page: reader | host | Postgres |',
    '|---|---|---|---|---|---|---|---|',
    row('raw postgres.js keyset, jsonb parsed by the driver (baseline)', rawParsed, rawParsed),
    row('GET /records + JSON.parse in the reader', httpParsed, rawParsed),
    row('@ferry/client recordPages() (fetch, records parsed as they arrive, next page asked ahead; ms = wait per page)', clientParsed, rawParsed),
    row('raw postgres.js keyset, unparsed (rows as bytes) (baseline)', rawText, rawText),
    row('GET /records, body unparsed (records counted)', httpBytes, rawText),
    row(`raw postgres.js keyset, parsed, ${READERS} readers at once (baseline)`, rawConcurrent, rawConcurrent),
    row(`GET /records + JSON.parse, ${READERS} readers at once`, httpConcurrent, rawConcurrent),
    row(`@ferry/client recordPages(), ${READERS} readers at once`, clientConcurrent, rawConcurrent),
    '',
    `GET /records, one bare reader (all its passes): time to first byte p50 ${percentile(firstBytes, 50).toFixed(1)} ms, p99 ${percentile(firstBytes, 99).toFixed(1)} ms; whole page p50 ${httpParsed.p50.toFixed(1)} ms`,
    '',
    'Where the slow pages of the bare parsed reader go (all its passes; slow-pages.ts):',
    slowPagesReport(parsedSpans, readerGc.pauses, hostGc),
    '',
    'targets (≥ 75 % of raw, p99 page < 30 ms):',
    verdict('  parsed, one reader', httpParsed, rawParsed),
    verdict('  @ferry/client, one reader', clientParsed, rawParsed),
    verdict('  unparsed, one reader', httpBytes, rawText),
    verdict(`  parsed, ${READERS} readers`, httpConcurrent, rawConcurrent),
    verdict(`  @ferry/client, ${READERS} readers`, clientConcurrent, rawConcurrent),
    '',
  ].join('\n'));
  agent.destroy();
} finally {
  await closeRaw();
  hostProcess.send('close');
  await hostExited;
  await db.drop();
}
