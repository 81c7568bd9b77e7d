/**
 * Where a GET /records page spends its time: times each step of the HTTP path separately, per page
 * of 1,000 rows, on a fresh database of BENCH_RECORDS (default 100k) records.
 * Run: npx node bench/api/profile.ts (BENCH_RECORDS)
 */
import { loadConfig } from '../../host/config.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry } from '../../host/server.ts';
import { PAGE_STATEMENTS, readPageBody, readPageJson } from '../../host/store/records-read.ts';
import { hashKey } from '../../host/tenancy/environments.ts';
import { createBenchDatabase } from '../ingest/fresh-db.ts';
import { copyContacts } from './contacts.ts';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 100_000);
const PAGE = 1_000;
const KEY = 'fsk_bench_api_key_0123456789abcdef';
const logger = createLogger({ level: 'warn', name: 'bench-api-profile' });
const db = await createBenchDatabase(logger);
const host = await startFerry(loadConfig({
  DATABASE_URL: db.url, FERRY_PORT: '0', FERRY_SECRET_KEY: KEY, FERRY_ROLE: 'api', FERRY_RUNTIME_WORKERS: '1', FERRY_LOG_LEVEL: 'warn',
}), logger);
const sql = db.sql;
try {
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  await fetch(`${host.url}/providers/bench`, { method: 'PUT', headers, body: JSON.stringify({ base_url: 'http://127.0.0.1:9', auth: { type: 'none' } }) });
  await fetch(`${host.url}/connections`, { method: 'POST', headers, body: JSON.stringify({ connection_id: 'bench', provider: 'bench' }) });
  const [{ id: connectionId, environment_id: envId } = { id: '', environment_id: '' }] = await sql<{ id: string; environment_id: string }[]>`select id, environment_id from connections where connection_id = 'bench'`;
  await copyContacts(sql, connectionId, TOTAL);

  const times: Record<string, number[]> = {};
  const time = async <T>(label: string, f: () => Promise<T> | T): Promise<T> => {
    const t = performance.now();
    const r = await f();
    (times[label] ??= []).push(performance.now() - t);
    return r;
  };
  const hash = hashKey(KEY);
  for (let pass = 0; pass < 2; pass++) {
    for (const k of Object.keys(times)) delete times[k];
    let cursor = '0';
    for (;;) {
      await time('auth lookup', () => sql`select e.id, e.name from api_keys k join environments e on e.id = k.environment_id where k.key_hash = ${hashKey(KEY)} and k.revoked_at is null`);
      await time('connection lookup', () => sql`select id, environment_id, connection_id, provider, connection_config, metadata, auth_status, auth_error, created_at, updated_at from connections where environment_id = ${envId} and connection_id = 'bench'`);
      await time('merged lookup', () => sql`select e.id, e.name, c.id as connection from api_keys k join environments e on e.id = k.environment_id left join connections c on c.environment_id = e.id and c.connection_id = 'bench' where k.key_hash = ${hash} and k.revoked_at is null`);
      await time('raw prepared keyset (bench baseline)', () => sql`select cursor::text as cursor, data from records where connection_id = ${connectionId} and model = 'Contact' and cursor > ${cursor}::bigint order by records.cursor limit ${PAGE}`);
      const params = [connectionId, 'Contact', cursor, null, null, PAGE];
      await time('page query unprepared (text rows)', () => sql.unsafe(PAGE_STATEMENTS.keyset, params, { prepare: false }));
      await time('page query prepared (text rows)', () => sql.unsafe(PAGE_STATEMENTS.keyset, params, { prepare: true }));
      await time('data::text only, unprepared', () => sql.unsafe(`select cursor::text as c, data::text as d from records where connection_id = $1 and model = $2 and cursor > $3::bigint order by cursor limit $4`, [connectionId, 'Contact', cursor, PAGE], { prepare: false }));
      const { body } = await time('readPageJson (query + build)', () => readPageJson(sql, { connectionId, model: 'Contact', cursor, limit: PAGE }));
      await time('readPageBody (query + build bytes)', () => readPageBody(sql, { connectionId, model: 'Contact', cursor, limit: PAGE }));
      await time('Buffer.from(body)', () => Buffer.from(body));
      const text = await time('HTTP GET /records + text()', async () => {
        const res = await fetch(`${host.url}/records?connection_id=bench&model=Contact&limit=${PAGE}&cursor=${cursor}`, { headers });
        return res.text();
      });
      await time('HTTP GET /records + arrayBuffer()', async () => {
        const res = await fetch(`${host.url}/records?connection_id=bench&model=Contact&limit=${PAGE}&cursor=${cursor}`, { headers });
        return res.arrayBuffer();
      });
      const count = await time('reader: regex count + next_cursor', () => {
        const m = /"next_cursor":(?:"(\d+)"|null)}$/.exec(text);
        return m?.[1] ? (text.match(/"_ferry_metadata":/g)?.length ?? 0) : 0;
      });
      await time('HTTP GET /records → 401 (fixed HTTP cost)', async () => (await fetch(`${host.url}/records?connection_id=bench&model=Contact`)).text());
      const m = /"next_cursor":(?:"(\d+)"|null)}$/.exec(text);
      if (!m?.[1] || count === 0) break;
      cursor = m[1];
    }
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  for (const [k, v] of Object.entries(times)) process.stdout.write(`${k.padEnd(42)} median ${med(v).toFixed(2)} ms  mean ${mean(v).toFixed(2)} ms\n`);
} finally {
  await host.close();
  await db.drop();
}
