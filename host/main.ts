#!/usr/bin/env node
/**
 * Process entry (`ferry-server`, `node host/main.ts`): Ferry as the environment configures it.
 * The demo (providers + example scripts) needs the bundler, so it lives in the CLI:
 * `ferry start --demo`, which is what this repository's `npm start` runs.
 */
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { guardProcessFaults } from './process-faults.ts';
import { PortInUseError, startFerry } from './server.ts';

const config = loadConfig();
const logger = createLogger({ level: config.FERRY_LOG_LEVEL });
guardProcessFaults(logger);
if (process.argv.includes('--demo') || config.FERRY_DEMO === true) {
  logger.warn('the demo is started by the CLI: run `ferry start --demo` (or `npm start` in the Ferry repository)');
}

const host = await startFerry(config, logger).catch((err: unknown) => {
  if (!(err instanceof PortInUseError)) throw err;
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(7); // the CLI's exit code for "busy"
});
if (host.url) process.stdout.write(`Ferry is running at ${host.url}\nDashboard: ${host.url}/dashboard (sign in with an environment's secret key)\n`);
// A worker has no URL to announce; say it started, so an operator (or a bench) sees it is up.
else process.stdout.write('Ferry worker is running (FERRY_ROLE=worker: no API here)\n');

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    void host.close().then(() => process.exit(0));
  });
}
