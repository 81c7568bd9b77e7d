import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createLogger } from '../../host/logger.ts';
import { escapeCopyText } from '../../host/store/records-copy.ts';
import { readPageJson } from '../../host/store/records-read.ts';
import { contactRecord } from '../ingest/contact-data.ts';
import { createBenchDatabase } from '../ingest/fresh-db.ts';
const logger = createLogger({ level: 'warn' });
const db = await createBenchDatabase(logger);
const TOTAL = 30000;
const copier = await db.sql.reserve();
let text = '';
for (let n = 0; n < TOTAL; n++) { const r = contactRecord(n); text += `1\tContact\t${r.id}\t${escapeCopyText(JSON.stringify(r))}\th\n`; }
await pipeline(Readable.from([text]), await copier.unsafe('copy records (connection_id, model, id, data, hash) from stdin').writable());
await copier`select 1`; copier.release();
await db.sql.unsafe('vacuum analyze records');
async function time(label: string, fn: (cursor: string) => Promise<string>) {
  const t = performance.now(); let cursor = '0'; let pages = 0;
  for (;;) { const next = await fn(cursor); if (next === cursor) break; cursor = next; pages++; }
  console.log(label, ((performance.now() - t) / pages).toFixed(1), 'ms/page');
}
for (let rep = 0; rep < 2; rep++) {
await time('raw parsed', async (c) => { const rows = await db.sql`select cursor::text as c, data from records where connection_id = 1 and model = 'Contact' and cursor > ${c}::bigint order by records.cursor limit 1000`; return rows.at(-1)?.c ?? c; });
await time('raw text', async (c) => { const rows = await db.sql`select cursor::text as c, data::text as d from records where connection_id = 1 and model = 'Contact' and cursor > ${c}::bigint order by records.cursor limit 1000`; return rows.at(-1)?.c ?? c; });
await time('raw text+meta', async (c) => { const rows = await db.sql.unsafe(`select cursor::text as c, data::text as d, to_char(first_seen_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') a, to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') b from records where connection_id = 1 and model = 'Contact' and cursor > $1::bigint order by records.cursor limit 1000`, [c], { prepare: false }); return rows.at(-1)?.c ?? c; });
await time('readPageJson', async (c) => { const { body } = await readPageJson(db.sql, { connectionId: 1, model: 'Contact', cursor: c, limit: 1000 }); return /"next_cursor":(?:"(\d+)"|null)}$/.exec(body)?.[1] ?? c; });
}
await db.drop();
