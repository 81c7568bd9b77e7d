/**
 * Limits a script declares are capped by its environment: a deploy declaring more than the cap
 * is refused naming the limit (default caps 1 GiB / 1 h), the caps are environment settings, and
 * a cap lowered after a deploy still holds for the next run.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { HostApiError } from '../../cli/host-client.ts';
import { deploySources, startTestFerry, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const syncDeclaring = (limits: string) => `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'declares its limits',
  frequency: 'every day',
  autoStart: false,
  limits: ${limits},
  models: { Row: z.object({ id: z.string() }) },
  exec: async (nango) => { await nango.batchSave([{ id: '1' }], 'Row'); },
});`;

let ferry: TestFerry;
beforeAll(async () => {
  ferry = await startTestFerry();
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
});
afterAll(async () => { await ferry?.close(); });

async function refusal(source: string): Promise<HostApiError> {
  const error = await deploySources(ferry, { 'plain/syncs/greedy.ts': source }).then(() => null, (err: unknown) => err);
  expect(error).toBeInstanceOf(HostApiError);
  return error as HostApiError;
}

test('a deploy declaring more than the default caps (1 GiB, 1 h) is refused, naming each limit', async () => {
  const error = await refusal(syncDeclaring('{ memoryMb: 4096, wallTimeMs: 24 * 3600_000 }'));
  expect(error.status).toBe(400);
  expect(error.message).toContain('limits.memoryMb = 4096');
  expect(error.message).toContain('cap of 1024');
  expect(error.message).toContain('limits.wallTimeMs = 86400000');
  expect(error.message).toContain('cap of 3600000');
  expect((await ferry.api.get('/deploys')).body.deploys).toHaveLength(0);
  const settings = await ferry.api.get('/environment/settings');
  expect(settings.body.limit_caps).toEqual({ memoryMb: 1024, wallTimeMs: 3600_000, cpuTimeMs: 3600_000 });
});

test('caps are environment settings; a cap lowered after a deploy holds for the next run', async () => {
  expect((await ferry.api.put('/environment/settings', { max_memory_mb: 4096 })).body.limit_caps.memoryMb).toBe(4096);
  await deploySources(ferry, { 'plain/syncs/greedy.ts': syncDeclaring('{ memoryMb: 2048 }') });

  expect((await ferry.api.put('/environment/settings', { max_memory_mb: 64 })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'c1', provider: 'plain' })).status).toBe(201);
  expect((await ferry.api.post('/syncs/greedy/trigger', { connection_id: 'c1' })).status).toBe(202);
  const run = await waitForRun(ferry.api, 'c1', 'greedy');
  expect(run.status).toBe('succeeded');
  expect(run.memory_limit_mb).toBe(64);

  // Out of range for the runtime is a 400 naming the field, not a stored setting.
  const bad = await ferry.api.put('/environment/settings', { max_memory_mb: 100_000 });
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.body)).toContain('max_memory_mb');
  // A deploy over the lowered cap is refused; null restores the default cap.
  expect((await refusal(syncDeclaring('{ memoryMb: 128 }'))).message).toContain('cap of 64');
  expect((await ferry.api.put('/environment/settings', { max_memory_mb: null })).body.limit_caps.memoryMb).toBe(1024);
  await deploySources(ferry, { 'plain/syncs/greedy.ts': syncDeclaring('{ memoryMb: 128 }') });
});
