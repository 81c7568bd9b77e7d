/**
 * A connection's metadata has one cap, CAPS.stateBytes, whoever writes it: the HTTP API (PUT and
 * PATCH /connections/:id/metadata, POST /connections, PATCH /connections/:id) and a script
 * (setMetadata, updateMetadata). The API used to take metadata up to its 8 MiB body limit that a
 * script, held to 1 MiB, could not write back. A whole host on real Postgres; each attempt has
 * its own connection.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CAPS } from '../../runtime/caps.ts';
import { deploySources, idForThisAttempt, startTestFerry, type TestFerry } from '../helpers/ferry.ts';

// Writes what its input says through the script API and answers what happened (never throws).
const WRITER = `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({
  description: 'writes metadata of a given size',
  input: z.object({ op: z.enum(['set-back', 'set', 'update']), key: z.string(), bytes: z.number() }),
  output: z.object({ ok: z.boolean(), code: z.string().optional(), message: z.string().optional() }),
  exec: async (nango, input) => {
    try {
      if (input.op === 'set-back') await nango.setMetadata(await nango.getMetadata());
      else if (input.op === 'set') await nango.setMetadata({ [input.key]: 'm'.repeat(input.bytes) });
      else await nango.updateMetadata({ [input.key]: 'm'.repeat(input.bytes) });
      return { ok: true };
    } catch (error) {
      return { ok: false, code: String((error as { code?: unknown }).code), message: String((error as Error).message) };
    }
  },
});`;

let ferry: TestFerry;
beforeAll(async () => {
  ferry = await startTestFerry();
  await deploySources(ferry, { 'plain/actions/write-metadata.ts': WRITER });
  expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
}, 60_000);
afterAll(async () => { await ferry?.close(); });

/** `{"blob":"mmm…"}`: exactly `bytes` bytes as JSON. */
const metadataOf = (bytes: number) => ({ blob: 'm'.repeat(bytes - '{"blob":""}'.length) });

async function newConnection(): Promise<string> {
  const id = idForThisAttempt('metadata-cap');
  expect((await ferry.api.post('/connections', { connection_id: id, provider: 'plain' })).status).toBe(201);
  return id;
}

const storedBytes = async (id: string) => Buffer.byteLength(JSON.stringify((await ferry.api.get(`/connections/${id}/metadata`)).body));

test('the API takes metadata up to CAPS.stateBytes and refuses a byte more, naming the field, on every route that writes it', async () => {
  const id = await newConnection();
  const atCap = metadataOf(CAPS.stateBytes);
  const over = metadataOf(CAPS.stateBytes + 1);
  const newId = idForThisAttempt('metadata-cap-new');

  expect((await ferry.api.put(`/connections/${id}/metadata`, atCap)).status).toBe(200);
  expect(await storedBytes(id)).toBe(CAPS.stateBytes);

  for (const [method, path, body, field] of [
    ['PUT', `/connections/${id}/metadata`, over, 'body'],
    ['PATCH', `/connections/${id}/metadata`, over, 'body'],
    ['PATCH', `/connections/${id}`, { metadata: over }, 'body.metadata'],
    ['POST', '/connections', { connection_id: newId, provider: 'plain', metadata: over }, 'body.metadata'],
  ] as const) {
    const refused = await ferry.api.request(method, path, body);
    expect(refused.status, `${method} ${path}`).toBe(400);
    expect(refused.body.error.code).toBe('INVALID_REQUEST');
    expect(refused.body.error.issues.map((i: { path: string[] }) => i.path.join('.'))).toContain(field);
    expect(refused.body.error.message).toContain(`over the ${CAPS.stateBytes}-byte cap`);
  }
  expect(await storedBytes(id)).toBe(CAPS.stateBytes);
  expect((await ferry.api.get('/connections')).body.connections.map((c: { connection_id: string }) => c.connection_id)).not.toContain(newId);
}, 60_000);

test('a PATCH whose merge would pass the cap is a 413 and changes nothing', async () => {
  const id = await newConnection();
  const half = 'h'.repeat(CAPS.stateBytes / 2);
  expect((await ferry.api.put(`/connections/${id}/metadata`, { first: half })).status).toBe(200);
  const merged = await ferry.api.request('PATCH', `/connections/${id}/metadata`, { second: half });
  expect(merged.status).toBe(413);
  expect(merged.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  expect(merged.body.error.message).toContain(`over the ${CAPS.stateBytes}-byte cap`);
  expect((await ferry.api.get(`/connections/${id}/metadata`)).body).toEqual({ first: half });
}, 60_000);

test('a script writes back the largest metadata the API accepts, and is held to the same cap on setMetadata and updateMetadata', async () => {
  const id = await newConnection();
  const run = async (input: { op: string; key?: string; bytes?: number }) => {
    const { status, body } = await ferry.api.post('/actions/write-metadata', { connection_id: id, input: { key: 'k', bytes: 0, ...input } });
    expect(status, JSON.stringify(body)).toBe(200);
    return body.output as { ok: boolean; code?: string; message?: string };
  };
  // Under the cap, with room for the script's own call ({"metadata":…,"merge":false}).
  const large = metadataOf(CAPS.stateBytes - 1024);
  expect((await ferry.api.put(`/connections/${id}/metadata`, large)).status).toBe(200);
  expect(await run({ op: 'set-back' })).toEqual({ ok: true });
  expect((await ferry.api.get(`/connections/${id}/metadata`)).body).toEqual(large);

  const tooBig = await run({ op: 'set', bytes: CAPS.stateBytes + 10 });
  expect(tooBig).toMatchObject({ ok: false, code: 'PAYLOAD_TOO_LARGE' });
  // Each key alone is within the cap; merged with what is stored, they are not.
  const merged = await run({ op: 'update', key: 'more', bytes: 512 * 1024 });
  expect(merged).toMatchObject({ ok: false, code: 'PAYLOAD_TOO_LARGE' });
  expect(merged.message).toContain(`over the ${CAPS.stateBytes}-byte cap`);
  expect((await ferry.api.get(`/connections/${id}/metadata`)).body).toEqual(large);
}, 120_000);
