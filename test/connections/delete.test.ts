/** Deleting a connection deletes what was synced for it, and nothing of other connections. */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startDemoProvider, type DemoProvider } from '../../demo/provider.ts';
import { deploySources, readAll, startTestFerry, waitForRun, type TestFerry } from '../helpers/ferry.ts';

let ferry: TestFerry;
let provider: DemoProvider;

beforeAll(async () => {
  provider = await startDemoProvider({ apiKey: 'k', contacts: 1 });
  ferry = await startTestFerry();
  await deploySources(ferry, {
    'demo/syncs/things.ts': `
      import { createSync } from 'ferry/sdk';
      import { z } from 'zod';
      export default createSync({
        description: 'three things, one rejected',
        frequency: 'every day',
        models: { Thing: z.object({ id: z.string(), n: z.number() }) },
        exec: async (nango) => { await nango.batchSave([{ id: 'a', n: 1 }, { id: 'b', n: 2 }, { id: 'c', n: 'x' }] as any, 'Thing'); },
      });`,
  });
  await ferry.api.put('/providers/demo', { base_url: provider.url, auth: { type: 'bearer' } });
  for (const id of ['keep', 'drop']) await ferry.api.post('/connections', { connection_id: id, provider: 'demo', credentials: { type: 'bearer', token: 'k' } });
});
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

test('DELETE /connections/:id removes its records and rejected records in the same transaction', async () => {
  for (const id of ['keep', 'drop']) expect((await waitForRun(ferry.api, id, 'things')).counts).toMatchObject({ added: 2, rejected: 1 });
  const [drop] = await ferry.db.sql<{ id: string }[]>`select id from connections where connection_id = 'drop'`;

  expect((await ferry.api.request('DELETE', '/connections/drop')).status).toBe(204);
  const [left] = await ferry.db.sql<{ records: number; rejected: number }[]>`
    select (select count(*)::int from records where connection_id = ${drop!.id}) as records,
           (select count(*)::int from rejected_records where connection_id = ${drop!.id}) as rejected`;
  expect(left).toEqual({ records: 0, rejected: 0 });
  expect((await readAll(ferry.api, 'keep', 'Thing')).records.map((r) => r.id).sort()).toEqual(['a', 'b']);
  expect((await ferry.api.get('/records?connection_id=drop&model=Thing')).status).toBe(404);
  expect((await ferry.api.request('DELETE', '/connections/drop')).status).toBe(404);
});
