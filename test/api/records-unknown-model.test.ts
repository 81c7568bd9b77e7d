/**
 * GET /records for a model the connection does not have is a 404 naming the models it has, not
 * an empty 200; a declared model with nothing saved yet, or a model dropped from the scripts
 * that still holds records, reads as usual.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deploySources, startTestFerry, type TestFerry } from '../helpers/ferry.ts';

const SYNC = (models: string[]) => `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string() });
export default createSync({
  description: 'declares models', frequency: 'every 1 hour', syncType: 'full',
  models: { ${models.map((m) => `${m}: Item`).join(', ')} },
  exec: async () => {},
});`;

let ferry: TestFerry;

beforeAll(async () => {
  ferry = await startTestFerry();
  expect((await ferry.api.put('/providers/shop', { base_url: 'http://127.0.0.1:9', auth: { type: 'bearer' } })).status).toBe(200);
  expect((await ferry.api.put('/providers/other', { base_url: 'http://127.0.0.1:9', auth: { type: 'bearer' } })).status).toBe(200);
  await deploySources(ferry, { 'shop/syncs/orders.ts': SYNC(['Order', 'Customer']), 'other/syncs/tickets.ts': SYNC(['Ticket']) });
  expect((await ferry.api.post('/connections', { connection_id: 'shop-1', provider: 'shop', credentials: { type: 'bearer', token: 't' } })).status).toBe(201);
}, 60_000);
afterAll(async () => {
  await ferry?.close();
});

test('an unknown model is a 404 naming the models of the connection; a declared one with no records is an empty 200', async () => {
  const typo = await ferry.api.get('/records?connection_id=shop-1&model=Ordr');
  expect(typo.status).toBe(404);
  expect(typo.body.error.code).toBe('UNKNOWN_MODEL');
  expect(typo.body.error.message).toBe('connection "shop-1" has no model "Ordr": its models are Customer, Order');
  expect(typo.body.error.issues).toEqual([{ path: ['model'], message: 'its models are Customer, Order' }]);

  // Another provider's model is not this connection's.
  expect((await ferry.api.get('/records?connection_id=shop-1&model=Ticket')).status).toBe(404);

  const empty = await ferry.api.get('/records?connection_id=shop-1&model=Customer');
  expect(empty.status).toBe(200);
  expect(empty.body).toEqual({ records: [], next_cursor: null });
});

test('a model no script declares any more still reads while the connection holds its records', async () => {
  await ferry.db.sql`
    insert into records (connection_id, model, id, data, hash)
    select id, 'LegacyOrder', 'o-1', '{"id":"o-1"}', 'h' from connections where connection_id = 'shop-1'`;
  const legacy = await ferry.api.get('/records?connection_id=shop-1&model=LegacyOrder');
  expect(legacy.status).toBe(200);
  expect(legacy.body.records.map((r: { id: string }) => r.id)).toEqual(['o-1']);
  // Past the last record the page is empty, and the model is still known.
  const after = await ferry.api.get(`/records?connection_id=shop-1&model=LegacyOrder&cursor=${legacy.body.next_cursor}`);
  expect(after.status).toBe(200);
  const typo = await ferry.api.get('/records?connection_id=shop-1&model=Nope');
  expect(typo.body.error.message).toBe('connection "shop-1" has no model "Nope": its models are Customer, LegacyOrder, Order');
});
