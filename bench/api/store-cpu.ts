/**
 * CPU and garbage collections per page of the record store's part of GET /records alone
 * (streamPageBody, the body consumed in this process and its chunks released as GET /records
 * releases them; no HTTP), beside the driver's part alone (rowMessages, nothing built), on
 * BENCH_RECORDS (default 50k) records: the host-side cost that bench/api/run.ts cannot tell apart
 * from the HTTP write. Per thread: V8's GC threads ("V8Worker") count apart from the main thread.
 * Run: npx node bench/api/store-cpu.ts (BENCH_RECORDS, BENCH_ROUNDS)
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { loadConfig } from '../../host/config.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry } from '../../host/server.ts';
import { PAGE_STATEMENTS, releasePageChunk, streamPageBody } from '../../host/store/records-read.ts';
import { threadCpu } from '../ingest/cpu-time.ts';
import { createBenchDatabase } from '../ingest/fresh-db.ts';
import { copyContacts } from './contacts.ts';

const TOTAL = Number(process.env.BENCH_RECORDS ?? 50_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const PAGE = 1_000;
const KEY = 'fsk_bench_api_key_0123456789abcdef';
const logger = createLogger({ level: 'warn', name: 'bench-api-store-cpu' });
const db = await createBenchDatabase(logger);
const host = await startFerry(loadConfig({
  DATABASE_URL: db.url, FERRY_PORT: '0', FERRY_SECRET_KEY: KEY, FERRY_ROLE: 'api', FERRY_RUNTIME_WORKERS: '1', FERRY_LOG_LEVEL: 'warn',
}), logger);
let gcs = { minor: 0, major: 0, ms: 0 };
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === 4) gcs.major++;
    else gcs.minor++;
    gcs.ms += entry.duration;
  }
});
observer.observe({ entryTypes: ['gc'] });
try {
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  await fetch(`${host.url}/providers/bench`, { method: 'PUT', headers, body: JSON.stringify({ base_url: 'http://127.0.0.1:9', auth: { type: 'none' } }) });
  await fetch(`${host.url}/connections`, { method: 'POST', headers, body: JSON.stringify({ connection_id: 'bench', provider: 'bench' }) });
  const [{ id: connectionId } = { id: '' }] = await db.sql<{ id: string }[]>`select id from connections where connection_id = 'bench'`;
  await copyContacts(db.sql, connectionId, TOTAL);
  for (let round = 0; round < ROUNDS; round++) {
    gcs = { minor: 0, major: 0, ms: 0 };
    const cpu = process.cpuUsage();
    const threads = threadCpu();
    let pages = 0;
    let bytes = 0;
    const variant = round % 2 === 0 ? 'streamPageBody' : 'rowMessages, nothing built';
    if (round % 2 === 1) {
      // The driver's part alone: the same page query, each row message only looked at.
      for (let cursor = '0'; ;) {
        let last = '';
        let rows = 0;
        await (db.sql.unsafe(PAGE_STATEMENTS.keyset, [connectionId, 'Contact', cursor, null, null, PAGE], { prepare: false }) as unknown as { rowMessages(): { forEach(fn: (m: Buffer) => void): Promise<unknown> } })
          .rowMessages().forEach((m) => {
            rows++;
            bytes += m.length;
            if (rows === PAGE) last = m.toString('latin1', 11, 11 + m.readInt32BE(7));
          });
        if (rows === 0) break;
        pages++;
        if (rows < PAGE) break;
        cursor = last;
      }
    }
    for (let cursor: string | null = round % 2 === 0 ? '0' : null; cursor !== null;) {
      const page = await streamPageBody(db.sql, { connectionId, model: 'Contact', cursor, limit: PAGE });
      let tail = '';
      for await (const chunk of page.body) {
        bytes += chunk.length;
        tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - 40))).toString('latin1');
        releasePageChunk(chunk); // as GET /records does once the socket has taken the bytes
      }
      cursor = page.empty ? null : /"next_cursor":"(\d+)"}$/.exec(tail)?.[1] ?? null;
      if (!page.empty) pages++;
    }
    await new Promise((resolve) => setImmediate(resolve));
    const used = process.cpuUsage(cpu);
    const byThread = [...threadCpu()].map(([name, ms]) => `${name} ${((ms - (threads.get(name) ?? 0)) / pages).toFixed(2)}`).join(', ');
    process.stdout.write(`round ${round} ${variant}: ${pages} pages, ${(bytes / pages / 1024).toFixed(0)} KB/page, CPU ${((used.user + used.system) / 1000 / pages).toFixed(2)} ms/page (sys ${(used.system / 1000 / pages).toFixed(2)}), GC ${gcs.major} major + ${gcs.minor} minor, ${(gcs.ms / pages).toFixed(2)} ms/page; per thread ${byThread}\n`);
  }
} finally {
  observer.disconnect();
  await host.close();
  await db.drop();
}
