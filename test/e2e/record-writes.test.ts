/**
 * Batches are written one behind the script (it builds the next page while the last one is
 * written). A batch Postgres refuses still fails the run — whether the script makes another
 * call or has already returned — the batches before it stay, none after it is written, and
 * lastSyncDate does not move.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deploySources, readAll, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { startDemoCrmHost, type DemoCrmHost } from '../helpers/demo-crm-host.ts';

let ferry: TestFerry;
let host: DemoCrmHost;

// A batch Postgres itself refuses: a trigger this test adds to its own database raises on one
// record id. (An over-long id no longer serves: the worker refuses ids over 1,024 bytes by name,
// docs/sandbox.md; nor does a NUL: that record is rejected by name.)
const sync = (prefix: string, pages: string) => `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: 'pages, one of which Postgres refuses',
  frequency: 'every day',
  models: { Item: z.object({ id: z.string(), name: z.string() }) },
  exec: async (nango) => {
    const pages = ${pages};
    for (const [p, bad] of pages.entries()) {
      const items = Array.from({ length: 50 }, (_, i) => ({ id: bad && i === 7 ? 'refused-by-postgres' : '${prefix}' + p + '-' + i, name: 'ok' }));
      await nango.batchSave(items, 'Item');
    }
  },
});`;

beforeAll(async () => {
  host = await startDemoCrmHost(1, async (f) => {
    await deploySources(f, {
      'demo/syncs/bad-middle.ts': sync('m', '[false, true, false, false]'),
      'demo/syncs/bad-last.ts': sync('l', '[false, false, true]'),
    });
    await f.db.sql.unsafe(`
      create function refuse_one_record() returns trigger language plpgsql as $$
      begin
        if new.id = 'refused-by-postgres' then raise exception 'this test refuses record %', new.id; end if;
        return new;
      end $$;
      create trigger refuse_one_record before insert or update on records for each row execute function refuse_one_record();`);
  });
  ferry = host.ferry;
});
afterAll(() => host?.close());

async function storedIds(prefix: string) {
  const { records } = await readAll(ferry.api, 'c1', 'Item', null, 1000);
  return records.map((r) => r.id as string).filter((id) => id.startsWith(prefix)).sort();
}
const pageIds = (prefix: string, page: number) => Array.from({ length: 50 }, (_, i) => `${prefix}${page}-${i}`);

test('a refused batch in the middle fails the run at the next call; later pages are not written', async () => {
  const run = await waitForRun(ferry.api, 'c1', 'bad-middle', '0', 60_000);
  expect(run.status).toBe('failed');
  expect(run.error.message).toContain('this test refuses record refused-by-postgres'); // Postgres' own message, passed on
  expect(run.counts.added).toBe(50);
  expect(await storedIds('m')).toEqual(pageIds('m', 0).sort());
  const status = await ferry.api.get('/syncs/bad-middle/status?connection_id=c1');
  expect(status.body.last_sync_date).toBeNull();
});

test('a refused last batch fails a run whose script already returned', async () => {
  const run = await waitForRun(ferry.api, 'c1', 'bad-last', '0', 60_000);
  expect(run.status).toBe('failed');
  expect(run.error.code).toBe('RECORD_WRITE_FAILED');
  expect(run.counts.added).toBe(100);
  const status = await ferry.api.get('/syncs/bad-last/status?connection_id=c1');
  expect(status.body.last_sync_date).toBeNull();
  expect(await storedIds('l')).toEqual([...pageIds('l', 0), ...pageIds('l', 1)].sort());
});
