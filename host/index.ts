/**
 * `@ferry/host`: the server as a library. `startFerry` runs the API, scheduler, workers and
 * runtime as `loadConfig` reads them from the environment; `setUpDemo` connects the demo
 * providers to a running host (the CLI's `ferry start --demo` and `ferry dev --demo`).
 * Light entry points for tools live beside it: `@ferry/host/logger`, `@ferry/host/config`,
 * `@ferry/host/frequency`.
 */
export { loadConfig, type Config } from './config.ts';
export { createLogger, type Logger } from './logger.ts';
export { guardProcessFaults } from './process-faults.ts';
export { PortInUseError, startFerry, type FerryHost } from './server.ts';
export { DEMO_CONNECTION_ID, demoConnectionId, setUpDemo, type DemoDeploy, type DemoSetup } from './demo.ts';
