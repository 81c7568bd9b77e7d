/**
 * The Ferry host of bench/api, in its own process as it is deployed: the bench's readers (and
 * their parsing) do not share an event loop with the server, and the CPU each side spends per
 * page is counted apart (/proc of this process). Sends { url } once listening; answers 'gc' with its
 * garbage collections ({ gc: [start, end][] }, epoch ms); closes on 'close'.
 * Config from the environment: DATABASE_URL, FERRY_SECRET_KEY, FERRY_RECORDS_READ_AHEAD (bench/api/read-ahead.ts).
 */
import { loadConfig } from '../../host/config.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry } from '../../host/server.ts';
import { watchGc } from './slow-pages.ts';

const logger = createLogger({ level: process.env.FERRY_LOG_LEVEL ?? 'warn', name: 'bench-api-host' });
const host = await startFerry(loadConfig({
  DATABASE_URL: process.env.DATABASE_URL, FERRY_PORT: '0', FERRY_SECRET_KEY: process.env.FERRY_SECRET_KEY,
  FERRY_ROLE: 'api', FERRY_RUNTIME_WORKERS: '1', FERRY_LOG_LEVEL: process.env.FERRY_LOG_LEVEL ?? 'warn',
  ...(process.env.FERRY_RECORDS_READ_AHEAD ? { FERRY_RECORDS_READ_AHEAD: process.env.FERRY_RECORDS_READ_AHEAD } : {}),
}), logger);
// Its collections, for the bench's slow-page report: sent when asked ('gc').
const gc = watchGc();
process.send!({ url: host.url });
process.on('message', (message) => {
  if (message === 'gc') process.send!({ gc: gc.pauses });
  if (message !== 'close') return;
  gc.stop();
  void host.close().then(() => process.exit(0), (err: unknown) => {
    logger.error({ err }, 'closing the bench host');
    process.exit(1);
  });
});
