#!/usr/bin/env node
/**
 * Runs the demo CRM on its own: `node demo/provider-main.ts` (env DEMO_PORT, DEMO_API_KEY,
 * DEMO_CONTACTS, DEMO_DRIFT_MS). Prints its URL and key, stops on Ctrl-C.
 */
import { pino } from 'pino';
import { startDemoProvider } from './provider.ts';

const logger = pino({ name: 'demo-provider' });
const provider = await startDemoProvider({
  port: Number(process.env.DEMO_PORT ?? 3010),
  apiKey: process.env.DEMO_API_KEY ?? 'demo-secret-key',
  contacts: Number(process.env.DEMO_CONTACTS ?? 1000),
  driftEveryMs: Number(process.env.DEMO_DRIFT_MS ?? 10_000),
});
logger.info({ url: provider.url, contacts: provider.contactCount }, 'demo CRM listening (Authorization: Bearer $DEMO_API_KEY)');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void provider.close().then(() => process.exit(0)));
}
