/**
 * Postgres' CPU per page of GET /records' page statement beside the raw keyset read, and of
 * variants that each drop one part of the difference: where the extra Postgres time per page
 * goes. N (default 100k) ~1 KB records by COPY into a fresh database; ROUNDS alternating rounds,
 * each paging PAGES pages of 1,000 through every variant in turn (the same rows, cached), CPU
 * from /proc of the one backend (10 ms ticks: a round's ~1 s resolves ~1 %). Median per variant.
 * Run: npx node bench/api/pg-cpu.ts   (BENCH_RECORDS, BENCH_ROUNDS, BENCH_PAGES)
 */
import { loadavg } from 'node:os';
import { createLogger } from '../../host/logger.ts';
import { PAGE_STATEMENTS } from '../../host/store/records-read.ts';
import { snapshot, used } from '../ingest/cpu-time.ts';
import { createBenchDatabase } from '../ingest/fresh-db.ts';
import { copyContacts } from './contacts.ts';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PAGES = Number(process.env.BENCH_PAGES ?? 100);
const PAGE = 1_000;
const KEY_HASH = 'bench-key-hash';
const logger = createLogger({ level: 'warn', name: 'bench-pg-cpu' });

const db = await createBenchDatabase(logger);
try {
  await db.sql`insert into environments (name) values ('bench')`.catch(() => {});
  const [env] = await db.sql<{ id: string }[]>`select id from environments limit 1`;
  await db.sql`insert into api_keys (environment_id, key_hash) values (${env!.id}, ${KEY_HASH})`;
  await db.sql`insert into providers (environment_id, name, base_url, auth) values (${env!.id}, 'bench', 'http://127.0.0.1:9', '{"type":"none"}')`.catch(() => {});
  const [conn] = await db.sql<{ id: string }[]>`insert into connections (environment_id, connection_id, provider) values (${env!.id}, 'bench', 'bench') returning id`;
  const connectionId = conn!.id;
  await copyContacts(db.sql, connectionId, TOTAL);
  const [{ min = '1' } = {}] = await db.sql<{ min: string }[]>`select min(cursor)::text as min from records`;
  const before = BigInt(min) - 1n;

  const sql = db.sql.reserve ? await db.sql.reserve() : db.sql;
  const [{ pid } = { pid: 0 }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const ferry = PAGE_STATEMENTS.keyedKeyset;
  const epochUs = /\(date_part\('epoch', page\.(\w+)\) \* 1000000\)::bigint/g;
  // As served until session 11: every column cast to text (I/O coercions of the same bytes).
  const casts = ferry.replace('page.cursor as c', 'page.cursor::text as c').replace('page.data as d', 'page.data::text as d').replace(epochUs, '$&::text');
  const noDates = ferry.replace(epochUs, 'null::bigint');
  const noMeta = noDates.replace('page.last_action as a', 'null::text as a');
  if (casts === ferry || noDates === ferry) throw new Error('the page statement changed: update the variants');
  const raw = (data: string) => `select cursor::text as cursor, ${data} as data from records
    where connection_id = $1 and model = 'Contact' and cursor > $2::bigint order by records.cursor limit $3`;
  const rawParams = (c: bigint) => [connectionId, c.toString(), PAGE];
  const keyed = (cursor: bigint) => [KEY_HASH, 'Contact', cursor.toString(), null, null, PAGE, 'bench'];
  const variants: Array<{ label: string; text: string; prepare: boolean; params: (cursor: bigint) => unknown[] }> = [
    { label: 'raw keyset, data (jsonb printed), prepared (the bench baselines)', text: raw('data'), prepare: true, params: rawParams },
    { label: 'raw keyset, data::text, prepared (the unparsed baseline until session 11)', text: raw('data::text'), prepare: true, params: rawParams },
    { label: 'raw keyset, data, unprepared', text: raw('data'), prepare: false, params: rawParams },
    { label: 'GET /records page statement (unprepared, as served)', text: ferry, prepare: false, params: keyed },
    { label: 'the same, prepared', text: ferry, prepare: true, params: keyed },
    { label: 'the same with every column cast ::text (as served until session 11)', text: casts, prepare: false, params: keyed },
    { label: 'the same without the three dates', text: noDates, prepare: false, params: keyed },
    { label: 'the same without dates and action', text: noMeta, prepare: false, params: keyed },
  ];
  const cpu = variants.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const [i, v] of variants.entries()) {
      const start = snapshot([pid]);
      let cursor = before;
      for (let p = 0; p < PAGES; p++) {
        // Raw rows (a Buffer per column), so this process parses nothing: the cursor is column 0.
        const rows = await sql.unsafe(v.text, v.params(cursor) as never[], { prepare: v.prepare }).raw();
        if (rows.length !== PAGE) throw new Error(`${v.label}: ${rows.length} rows`);
        cursor = BigInt(String(rows.at(-1)![0]));
        if (cursor - before >= BigInt(TOTAL - PAGE)) cursor = before;
      }
      if (round > 0) cpu[i]!.push(used(start, [pid]) / PAGES); // round 0 warms the cache
    }
  }
  if ('release' in sql) (sql as { release(): void }).release();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write(`${TOTAL.toLocaleString('en')} records, ${ROUNDS} rounds of ${PAGES} pages of ${PAGE}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  process.stdout.write('| statement | Postgres CPU ms/page (median) | rounds |\n|---|---|---|\n');
  for (const [i, v] of variants.entries()) process.stdout.write(`| ${v.label} | ${median(cpu[i]!).toFixed(2)} | ${cpu[i]!.map((x) => x.toFixed(2)).join(' ')} |\n`);
} finally {
  await db.drop();
}
