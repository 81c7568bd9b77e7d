/**
 * /metrics beyond the run table's totals, end to end: real runs against a provider server on
 * 127.0.0.1 give per-script duration and peak-memory histograms, runs by outcome, proxy calls,
 * errors, retries and rate-limit waits per provider, outgoing webhook deliveries and failures;
 * and the answering process reports its own CPU, memory and event-loop figures.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, onTestFinished, test } from 'vitest';
import { PEAK_MEMORY_BUCKETS } from '../../host/metrics/script-runs.ts';
import { deploySources, startTestFerry, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const PROBE = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string() });
export default createSync({
  description: 'three calls: one retried after a 503, one refused with 404, all rate limited',
  frequency: 'every 1 hour',
  models: { Item },
  exec: async (nango) => {
    await nango.get({ endpoint: '/ok' });
    await nango.get({ endpoint: '/flaky', retries: 2 });
    await nango.get({ endpoint: '/missing', retries: 0 }).catch(() => null);
    await nango.batchSave([{ id: 'a' }, { id: 'b' }], 'Item');
  },
});`;

const FAILS = `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'always throws',
  frequency: 'every 1 hour',
  models: { Item: z.object({ id: z.string() }) },
  exec: async () => { throw new Error('nope'); },
});`;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-z_0-9]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    out.set(match[1]!, Number(match[2]));
  }
  return out;
}

/**
 * A host on a database of this attempt's own (what /metrics reports is read from it), a provider
 * whose /flaky answers 503 once, and a webhook receiver whose first delivery fails: CI's retry of
 * the test counts from zero again.
 */
async function startProbeHost(): Promise<TestFerry> {
  let flakyCalls = 0;
  let hookCalls = 0;
  const provider = createServer((req, res) => {
    const send = (status: number) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end('{}'); };
    if (req.url === '/ok') return send(200);
    if (req.url === '/flaky') return send(++flakyCalls === 1 ? 503 : 200);
    send(404);
  });
  // The first delivery attempt fails, the retry succeeds.
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => { res.writeHead(++hookCalls === 1 ? 500 : 204); res.end(); });
  });
  const [providerUrl, receiverUrl] = await Promise.all([listen(provider), listen(receiver)]);
  onTestFinished(() => new Promise<void>((r) => provider.close(() => r())));
  onTestFinished(() => new Promise<void>((r) => receiver.close(() => r())));
  const ferry = await startTestFerry({ FERRY_WEBHOOK_RETRY_DELAY_S: '1' });
  onTestFinished(() => ferry.close());
  await deploySources(ferry, { 'probep/syncs/probe.ts': PROBE, 'probep/syncs/fails.ts': FAILS });
  expect((await ferry.api.put('/providers/probep', {
    base_url: providerUrl, auth: { type: 'none' }, rate_limit: { per_connection: { requests_per_second: 0.5, burst: 1 } },
  })).status).toBe(200);
  expect((await ferry.api.put('/environment/settings', { webhook_url: `${receiverUrl}/hook` })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'probe', provider: 'probep' })).status).toBe(201);
  return ferry;
}

test('runs, proxy calls and webhook deliveries show up in /metrics by script, provider and event', async () => {
  const ferry = await startProbeHost();
  const probe = await waitForRun(ferry.api, 'probe', 'probe', '0', 60_000);
  expect(probe.status).toBe('succeeded');
  const failed = await waitForRun(ferry.api, 'probe', 'fails', '0', 60_000);
  expect(failed.status).toBe('failed');
  await waitFor('the webhook delivered on its second attempt', async () => {
    const [row] = await ferry.db.sql<{ status: string }[]>`select status from webhook_deliveries order by id limit 1`;
    return row?.status === 'delivered' ? true : undefined;
  }, 30_000);

  const m = samples(await (await fetch(`${ferry.url}/metrics`)).text());

  // Per script: one finished run each, the probe's peak heap in the right bucket.
  const probeLabels = 'kind="sync",provider="probep",script="probe"';
  expect(m.get(`ferry_script_run_duration_seconds_count{${probeLabels}}`)).toBe(1);
  expect(m.get(`ferry_script_run_duration_seconds_sum{${probeLabels}}`)).toBeCloseTo(probe.usage.wall_ms / 1000, 3);
  expect(m.get(`ferry_script_run_peak_memory_bytes_count{${probeLabels}}`)).toBe(1);
  expect(m.get(`ferry_script_run_peak_memory_bytes_sum{${probeLabels}}`)).toBe(probe.usage.peak_heap_bytes);
  const firstBucket = PEAK_MEMORY_BUCKETS.find((le) => le >= probe.usage.peak_heap_bytes)!;
  expect(m.get(`ferry_script_run_peak_memory_bytes_bucket{${probeLabels},le="${firstBucket}"}`)).toBe(1);
  const below = PEAK_MEMORY_BUCKETS.filter((le) => le < probe.usage.peak_heap_bytes).at(-1);
  if (below !== undefined) expect(m.get(`ferry_script_run_peak_memory_bytes_bucket{${probeLabels},le="${below}"}`)).toBe(0);
  expect(m.get('ferry_script_run_duration_seconds_count{kind="sync",provider="probep",script="fails"}')).toBe(1);

  // Outcomes.
  expect(m.get('ferry_runs_finished_total{kind="sync",status="succeeded",error_kind=""}')).toBe(1);
  expect(m.get('ferry_runs_finished_total{kind="sync",status="failed",error_kind="script"}')).toBe(1);

  // Proxy, per provider: 3 calls (the 503 was retried inside one call), the 404 an error, one
  // retry; at one request every 2 s with a burst of 1, the calls after the first waited (at 5
  // a second, a loaded machine's own slowness spaced them out enough that none had to).
  expect(m.get('ferry_proxy_calls_total{provider="probep"}')).toBe(3);
  expect(m.get('ferry_proxy_call_errors_total{provider="probep"}')).toBe(1);
  expect(m.get('ferry_proxy_retries_total{provider="probep"}')).toBe(1);
  expect(m.get('ferry_proxy_rate_limit_waits_total{provider="probep"}')).toBeGreaterThanOrEqual(1);
  expect(m.get('ferry_proxy_rate_limit_wait_seconds_total{provider="probep"}')).toBeGreaterThan(0);

  // Webhooks: one delivery of the probe's changes, two attempts, one failed.
  const [delivery] = await ferry.db.sql<{ event_type: string }[]>`select event_type from webhook_deliveries order by id limit 1`;
  const event = delivery!.event_type;
  expect(m.get(`ferry_webhook_deliveries{status="delivered",event="${event}"}`)).toBe(1);
  expect(m.get(`ferry_webhook_delivery_attempts_total{event="${event}"}`)).toBe(2);
  expect(m.get(`ferry_webhook_delivery_failures_total{event="${event}"}`)).toBe(1);

  // The answering process.
  expect(m.get('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
  expect(m.get('process_cpu_seconds_total')).toBeGreaterThan(0);
  expect(Math.abs(m.get('process_start_time_seconds')! - (Date.now() / 1000 - process.uptime()))).toBeLessThan(5);
  expect(m.get('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  expect(m.has('nodejs_eventloop_lag_seconds')).toBe(true);
}, 120_000);
