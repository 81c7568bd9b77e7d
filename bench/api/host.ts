/**
 * The Ferry host of bench/api, in its own process as it is deployed: the bench's readers (and
 * their parsing) do not share an event loop with the server, and the CPU each side spends per
 * page is counted apart (/proc of this process). Sends { url } once listening; closes on 'close'.
 * Config from the environment: DATABASE_URL, FERRY_SECRET_KEY.
 */
import { loadConfig } from '../../host/config.ts';
import { createLogger } from '../../host/logger.ts';
import { startFerry } from '../../host/server.ts';

const logger = createLogger({ level: process.env.FERRY_LOG_LEVEL ?? 'warn', name: 'bench-api-host' });
const host = await startFerry(loadConfig({
  DATABASE_URL: process.env.DATABASE_URL, FERRY_PORT: '0', FERRY_SECRET_KEY: process.env.FERRY_SECRET_KEY,
  FERRY_ROLE: 'api', FERRY_RUNTIME_WORKERS: '1', FERRY_LOG_LEVEL: process.env.FERRY_LOG_LEVEL ?? 'warn',
}), logger);
process.send!({ url: host.url });
process.on('message', (message) => {
  if (message !== 'close') return;
  void host.close().then(() => process.exit(0), (err: unknown) => {
    logger.error({ err }, 'closing the bench host');
    process.exit(1);
  });
});
