/**
 * The rows every bench/api script pages through: N ~1 KB contact records of one connection's
 * `Contact` model, straight into `records` by COPY (cursors drawn in insertion order), then
 * VACUUM ANALYZE, as a long-lived table would be.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Sql } from '../../host/db/connect.ts';
import { escapeCopyText } from '../../host/store/records-copy.ts';
import { contactRecord } from '../ingest/contact-data.ts';

const CHUNK = 5_000;

export async function copyContacts(sql: Sql, connectionId: string, total: number): Promise<void> {
  // One reserved connection: its queries run in order, so the count below waits for every COPY
  // (the COPY writable finishes when its data is sent, not when the server has applied it).
  const copier = await sql.reserve();
  try {
    for (let from = 0; from < total; from += CHUNK) {
      let text = '';
      for (let n = from; n < Math.min(total, from + CHUNK); n++) {
        const record = contactRecord(n);
        text += `${connectionId}\tContact\t${escapeCopyText(record.id)}\t${escapeCopyText(JSON.stringify(record))}\th${n}\n`;
      }
      await pipeline(Readable.from([text]), await copier.unsafe('copy records (connection_id, model, id, data, hash) from stdin').writable());
    }
    const [{ n = 0 } = {}] = await copier<{ n: number }[]>`select count(*)::int as n from records where connection_id = ${connectionId}`;
    if (n !== total) throw new Error(`generated ${n} records, expected ${total}`);
  } finally {
    copier.release();
  }
  await sql.unsafe('vacuum analyze records');
}
