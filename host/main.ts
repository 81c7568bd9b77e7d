#!/usr/bin/env node
/**
 * Process entry: `node host/main.ts` runs Ferry as configured by the environment;
 * `--demo` (what `npm start` passes) also starts the local demo provider and example sync.
 */
import { loadConfig } from './config.ts';
import { setUpDemo, DEMO_CONNECTION_ID, type DemoSetup } from './demo.ts';
import { createLogger } from './logger.ts';
import { startFerry } from './server.ts';

const config = loadConfig();
const logger = createLogger({ level: config.FERRY_LOG_LEVEL });
const demoWanted = process.argv.includes('--demo') || config.FERRY_DEMO === true;

const host = await startFerry(config, logger);
let demo: DemoSetup | null = null;
if (demoWanted && host.url) {
  demo = await setUpDemo({ url: host.url, secretKey: host.secretKey, logger });
  const recordsUrl = `${host.url}/records?connection_id=${DEMO_CONNECTION_ID}&model=Contact&limit=5`;
  process.stdout.write([
    '',
    `Ferry is running at ${host.url} (${host.embedded ? 'embedded PGlite in ' + config.FERRY_DATA_DIR : 'Postgres at DATABASE_URL'})`,
    `Dashboard: ${host.url}/dashboard (sign in with the secret key)`,
    `Secret key: ${host.secretKey}`,
    `The demo contacts sync runs every minute for connection "${DEMO_CONNECTION_ID}". Read its records:`,
    `  curl -H 'Authorization: Bearer ${host.secretKey}' '${recordsUrl}'`,
    `Runs and their usage:`,
    `  curl -H 'Authorization: Bearer ${host.secretKey}' '${host.url}/runs?connection_id=${DEMO_CONNECTION_ID}'`,
    '',
  ].join('\n') + '\n');
} else if (host.url) {
  process.stdout.write(`Ferry is running at ${host.url}\nDashboard: ${host.url}/dashboard (sign in with an environment's secret key)\n`);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void (async () => {
      await demo?.close();
      await host.close();
      process.exit(0);
    })();
  });
}
