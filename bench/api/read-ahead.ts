/**
 * GET /records' read-ahead, one change measured in one run: two hosts in their own processes on
 * the same database, one with FERRY_RECORDS_READ_AHEAD=0 and one with it on, read in alternating
 * rounds by the same bare node:http reader that takes turns (ask, receive, parse or count, ask
 * again: bench/api/run.ts's), beside the raw postgres.js keyset read of the same rows. Medians of
 * the rounds: records/s, the ratio to raw, and CPU ms per page of the reader, the hosts and Postgres.
 * Run: npx node bench/api/read-ahead.ts   (BENCH_RECORDS per round, default 100k; BENCH_ROUNDS, default 5)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, get } from 'node:http';
import { loadavg } from 'node:os';
import { connectDatabase } from '../../host/db/connect.ts';
import { createLogger } from '../../host/logger.ts';
import { cpuMeter } from '../ingest/cpu-time.ts';
import { createBenchDatabase } from '../ingest/fresh-db.ts';
import { copyContacts } from './contacts.ts';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PAGE = 1_000;
const KEY = 'fsk_bench_api_key_0123456789abcdef';
const METADATA_KEY = Buffer.from('"_ferry_metadata":');
const logger = createLogger({ level: process.env.FERRY_LOG_LEVEL ?? 'warn', name: 'bench-read-ahead' });

const db = await createBenchDatabase(logger);
const hosts: Array<{ process: ChildProcess; url: string; exited: Promise<void> }> = [];
const startHost = async (readAhead: boolean) => {
  const child = fork(new URL('./host.ts', import.meta.url), {
    env: { ...process.env, DATABASE_URL: db.url, FERRY_SECRET_KEY: KEY, FERRY_RECORDS_READ_AHEAD: readAhead ? '1' : '0' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { url } = await new Promise<{ url: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string }));
    child.once('exit', (code) => reject(new Error(`a bench host exited (${code}) before listening`)));
  });
  hosts.push({ process: child, url, exited });
  return url;
};
const rawDb = await connectDatabase({ databaseUrl: db.url, logger, maxConnections: 10 });
try {
  const [withoutUrl, withUrl] = [await startHost(false), await startHost(true)];
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  await fetch(`${withoutUrl}/providers/bench`, { method: 'PUT', headers, body: JSON.stringify({ base_url: 'http://127.0.0.1:9', auth: { type: 'none' } }) });
  const created = await fetch(`${withoutUrl}/connections`, { method: 'POST', headers, body: JSON.stringify({ connection_id: 'bench', provider: 'bench' }) });
  if (created.status !== 201) throw new Error(`creating the connection: ${created.status} ${await created.text()}`);
  const [{ id: connectionId } = { id: '' }] = await db.sql<{ id: string }[]>`select id from connections where connection_id = 'bench'`;
  await copyContacts(db.sql, connectionId, TOTAL);

  /** Reads every record once; returns the number of pages. */
  type Reader = () => Promise<number>;
  const raw = (parse: boolean): Reader => async () => {
    let cursor = '0';
    let pages = 0;
    for (;;) {
      const query = rawDb.sql<{ cursor: string; data: unknown }[]>`
        select cursor::text as cursor, data from records
        where connection_id = ${connectionId} and model = 'Contact' and cursor > ${cursor}::bigint
        order by records.cursor limit ${PAGE}`;
      const rows = parse ? await query : await query.raw();
      pages++;
      if (rows.length === 0) return pages;
      const last = rows.at(-1)!;
      cursor = Array.isArray(last) ? String(last[0]) : last.cursor;
    }
  };
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const getBody = (url: string) => new Promise<Buffer>((resolve, reject) => {
    get(url, { agent, headers: { authorization: headers.authorization } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET /records → ${res.statusCode}`))));
      res.on('error', reject);
    }).on('error', reject);
  });
  const http = (base: string, parse: boolean): Reader => async () => {
    let cursor = '';
    let pages = 0;
    for (;;) {
      const body = await getBody(`${base}/records?connection_id=bench&model=Contact&limit=${PAGE}${cursor ? `&cursor=${cursor}` : ''}`);
      pages++;
      let n = 0;
      if (parse) {
        const page = JSON.parse(body.toString('utf8')) as { records: unknown[]; next_cursor: string | null };
        n = page.records.length;
        cursor = page.next_cursor ?? cursor;
      } else {
        cursor = /"next_cursor":(?:"(\d+)"|null)}$/.exec(body.toString('latin1', Math.max(0, body.length - 64)))?.[1] ?? cursor;
        for (let at = body.indexOf(METADATA_KEY); at !== -1; at = body.indexOf(METADATA_KEY, at + METADATA_KEY.length)) n++;
      }
      if (n === 0) return pages;
    }
  };
  const paths: Array<[string, Reader]> = [
    ['raw postgres.js keyset, parsed (baseline)', raw(true)],
    ['GET /records + JSON.parse, read-ahead off', http(withoutUrl, true)],
    ['GET /records + JSON.parse, read-ahead on', http(withUrl, true)],
    ['raw postgres.js keyset, unparsed (baseline)', raw(false)],
    ['GET /records unparsed, read-ahead off', http(withoutUrl, false)],
    ['GET /records unparsed, read-ahead on', http(withUrl, false)],
  ];
  const figures = paths.map(() => ({ rate: [] as number[], reader: [] as number[], hosts: [] as number[], postgres: [] as number[] }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [, read]] of paths.entries()) {
      const meter = await cpuMeter(db.sql);
      const started = performance.now();
      const pages = await read();
      const ms = performance.now() - started;
      const used = await meter();
      const f = figures[i]!;
      f.rate.push(TOTAL / (ms / 1000));
      if (used) {
        f.reader.push(used.hostMs / pages);
        f.hosts.push(used.workersMs / pages);
        f.postgres.push(used.postgresMs / pages);
      }
    }
  }
  agent.destroy();
  const median = (xs: number[]) => xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN;
  process.stdout.write(`\n${TOTAL.toLocaleString('en')} records, ${PAGE} per page, ${ROUNDS} alternating rounds, medians; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  process.stdout.write('| path | records/s | of raw | CPU ms/page: reader | hosts | Postgres | rates of the rounds |\n|---|---|---|---|---|---|---|\n');
  for (const [i, [label]] of paths.entries()) {
    const f = figures[i]!;
    const base = figures[i < 3 ? 0 : 3]!;
    process.stdout.write(`| ${label} | ${Math.round(median(f.rate)).toLocaleString('en')} | ${(median(f.rate) / median(base.rate) * 100).toFixed(0)} % | ${median(f.reader).toFixed(2)} | ${median(f.hosts).toFixed(2)} | ${median(f.postgres).toFixed(2)} | ${f.rate.map((r) => Math.round(r / 1000)).join(' ')}k |\n`);
  }
} finally {
  await rawDb.close();
  for (const host of hosts) host.process.send('close');
  await Promise.all(hosts.map((h) => h.exited));
  await db.drop();
}
