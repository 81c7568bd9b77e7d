/**
 * A whole host whose database connections go through a dropping proxy (dropping-proxy.ts), for
 * the tests of a commit that went through unseen: one runtime worker, and the stale-run sweep at
 * its production bound (FERRY_STALE_RUN_MS, a minute), so a test that passes did not wait for it.
 * Each call has its own database, proxy and host; `close` ends all three.
 */
import { loadConfig } from '../../host/config.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry } from '../../host/server.ts';
import { createTestDatabase } from './db.ts';
import { startDroppingProxy, type DroppingProxy } from './dropping-proxy.ts';
import { createApiClient, TEST_SECRET_KEY, type TestFerry } from './ferry.ts';

export type ProxiedFerry = TestFerry & { proxy: DroppingProxy };

export async function startProxiedFerry(marks: Parameters<typeof startDroppingProxy>[1]): Promise<ProxiedFerry> {
  const db = await createTestDatabase();
  const proxy = await startDroppingProxy(db.url, marks);
  try {
    const host = await startFerry(loadConfig({
      DATABASE_URL: proxy.url(db.url), FERRY_PORT: '0', FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_RUNTIME_WORKERS: '1', FERRY_SCHEDULER_TICK_MS: '200',
      FERRY_STALE_RUN_MS: '60000',
    }), createLogger({ level: process.env.FERRY_TEST_LOG_LEVEL ?? 'silent' }));
    return {
      db, host, proxy, url: host.url!, api: createApiClient(host.url!, TEST_SECRET_KEY),
      close: async () => {
        await host.close();
        await proxy.close();
        await db.drop();
      },
    };
  } catch (err) {
    await proxy.close();
    await db.drop();
    throw err;
  }
}
