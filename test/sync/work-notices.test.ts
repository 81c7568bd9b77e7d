/**
 * Work starts when it appears, not at the next poll (host/queue/work-notices.ts): a pair that
 * becomes due makes a worker host tick at once, and queued sync jobs wake its idle slots. Each
 * test sets the polling it removes to an hour, so only a notice can start the work within the
 * test; and the listening connection, terminated, comes back and is woken by notices again.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createLogger } from '../../host/logger.ts';
import { createQueue, SYNC_QUEUE } from '../../host/queue/queue.ts';
import { listenForWork } from '../../host/queue/work-notices.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestFerry, waitFor, type TestFerry } from '../helpers/ferry.ts';
import { createConnection, deployProvider, firstRunOf, ITEMS_FULL_SYNC } from '../helpers/items-connection.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';

const HOUR_MS = 3_600_000;
const logger = createLogger({ level: 'silent' });

/**
 * The backend listening for work notices on this database (not `not`), once it listens on both
 * channels: postgres.js listens on them in the order they were asked for, due then queued.
 */
async function listenerPid(sql: TestDatabase['sql'], not?: number): Promise<number> {
  return waitFor('a backend listening for work notices', async () => {
    const [row] = await sql<{ pid: number }[]>`
      select pid from pg_stat_activity where datname = current_database() and query = 'listen "ferry_sync_queued"' and state = 'idle'
        and pid <> pg_backend_pid() and pid <> ${not ?? 0} limit 1`;
    return row?.pid;
  });
}

test('queued sync jobs wake idle slots that would otherwise wait out an hour-long poll, also after the listener was cut off', async () => {
  const db = await createTestDatabase();
  const worker = await createQueue({ sql: db.sql, logger, supervise: false, pollMs: HOUR_MS });
  const sender = await createQueue({ sql: db.sql, logger, supervise: false });
  const handled: string[] = [];
  const notices = await listenForWork(db.sql, logger, { due: () => {}, queued: () => worker.wake() });
  try {
    worker.work(1, async (job, _jobId, executed) => {
      handled.push(job.connectionId);
      executed();
    });
    const bothIdle = () => waitFor('both slots to have found nothing and paused', async () => (worker.idleSlots() === 2 ? true : undefined));
    await bothIdle();
    expect(await sender.enqueue({ connectionId: '1', syncName: 'items', trigger: 'manual' })).not.toBeNull();
    await waitFor('the first job to be handled', async () => (handled.includes('1') ? true : undefined));

    // The listening connection is terminated; postgres.js listens again on a new one.
    const pid = await listenerPid(db.sql);
    await db.sql`select pg_terminate_backend(${pid})`;
    await listenerPid(db.sql, pid);
    await bothIdle();
    expect(await sender.enqueue({ connectionId: '2', syncName: 'items', trigger: 'manual' })).not.toBeNull();
    await waitFor('the second job to be handled', async () => (handled.includes('2') ? true : undefined));
    expect(handled).toEqual(['1', '2']);
    const [left] = await db.sql<{ n: number }[]>`select count(*)::int as n from pgboss.job where name = ${SYNC_QUEUE} and state <> 'completed'`;
    expect(left!.n).toBe(0);
  } finally {
    await notices.close();
    await worker.close();
    await sender.close();
    await db.drop();
  }
}, 60_000);

let ferry: TestFerry;
let provider: ItemsProvider;
beforeAll(async () => {
  provider = await startItemsProvider(3);
  // The tick's interval is an hour: it ticks once at start (when it begins to listen), then only when woken.
  ferry = await startTestFerry({ FERRY_SCHEDULER_TICK_MS: String(HOUR_MS) });
  await deployProvider(ferry, { provider: 'notices', baseUrl: provider.url, scripts: { 'syncs/items.ts': ITEMS_FULL_SYNC } });
}, 60_000);
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

test('a new connection\'s first run, due now, starts without waiting for the scheduler\'s hour-long tick, also after the listener was cut off', async () => {
  await createConnection(ferry, 'notices-1', 'notices');
  expect(await firstRunOf(ferry, 'notices-1', 'items')).toMatchObject({ status: 'succeeded', trigger: 'schedule', counts: { added: 3 } });

  const pid = await listenerPid(ferry.db.sql);
  await ferry.db.sql`select pg_terminate_backend(${pid})`;
  await listenerPid(ferry.db.sql, pid);
  await createConnection(ferry, 'notices-2', 'notices');
  expect(await firstRunOf(ferry, 'notices-2', 'items')).toMatchObject({ status: 'succeeded', trigger: 'schedule', counts: { added: 3 } });
}, 90_000);
