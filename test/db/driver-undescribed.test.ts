/**
 * `describe: false` in Ferry's postgres.js fork (packages/postgres, tools/vendor-postgres.ts): an
 * unprepared statement whose parameters are all strings, numbers or nulls is parsed, bound and
 * executed in one write, instead of being described first and bound after the server's answer (a
 * round trip per statement: every GET /records page). Seen at a TCP proxy on 127.0.0.1 that keeps
 * each chunk the client sends; the values read back are the same either way.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import postgres from '@ferry/postgres';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;
beforeAll(async () => { db = await createTestDatabase(); }, 60_000);
afterAll(async () => { await db?.drop(); });

async function recordingProxy(): Promise<{ url: string; chunks: Buffer[]; close(): Promise<void> }> {
  const target = new URL(db.url);
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => { chunks.push(Buffer.from(chunk)); upstream.write(chunk); });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = new URL(db.url);
  url.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: url.toString(), chunks, close: () => new Promise((done) => { for (const s of sockets) s.destroy(); server.close(() => done()); }) };
}

const STATEMENT = `select $1 as a, $2::bigint + 1 as b, $3::text::jsonb as c, $4::timestamptz as d, $5::text is null as e -- marker`;

test('an unprepared statement with describe: false and text parameters is sent in one write; otherwise, or with other parameters, it is described first', async () => {
  const proxy = await recordingProxy();
  const sql = postgres(proxy.url, { max: 1, onnotice: () => {} });
  try {
    await sql`select 1`; // connected: what follows is the statements' own traffic
    const writes = async (params: unknown[], options: object) => {
      proxy.chunks.length = 0;
      const rows = await sql.unsafe(STATEMENT, params as never[], options);
      return { rows: [...rows], writes: proxy.chunks.length, first: proxy.chunks[0]! };
    };
    const params = ['text', 41, '{"k":[1,"2"]}', '2026-01-02T03:04:05.000Z', null];
    const described = await writes(params, { prepare: false });
    const undescribed = await writes(params, { prepare: false, describe: false });
    expect(described.writes).toBe(2);
    expect(undescribed.writes).toBe(1);
    expect(undescribed.first.includes('-- marker')).toBe(true);
    expect(undescribed.first.includes(Buffer.from('{"k":[1,"2"]}'))).toBe(true); // the Bind went with the Parse
    expect(undescribed.rows).toEqual(described.rows);
    expect(undescribed.rows).toEqual([{ a: 'text', b: '42', c: { k: [1, '2'] }, d: new Date('2026-01-02T03:04:05.000Z'), e: true }]);

    // A Date needs its serializer, which needs the type: described first, as without the option.
    const withDate = await writes(['text', 41, '{}', new Date('2026-01-02T03:04:05.000Z'), 'x'], { prepare: false, describe: false });
    expect(withDate.writes).toBe(2);
    expect(withDate.rows[0]).toMatchObject({ d: new Date('2026-01-02T03:04:05.000Z'), e: false });

    // A value the server cannot read as the type it inferred is its error, as ever.
    await expect(sql.unsafe('select $1::bigint as n', ['not a number'], { prepare: false, describe: false } as object)).rejects.toMatchObject({ code: '22P02' });
    expect(await sql`select 1 as ok`).toEqual([{ ok: 1 }]);
  } finally {
    await sql.end({ timeout: 5 });
    await proxy.close();
  }
});
