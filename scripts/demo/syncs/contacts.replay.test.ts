/** The contacts sync replayed from the responses `ferry dryrun contacts --save` recorded (an incremental run). */
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createScriptTester, readFixture } from '../../../testing/index.ts';
import type { Contact } from '../models.ts';

const tester = createScriptTester();
afterAll(() => tester.close());

it('asks for contacts updated since the recorded lastSyncDate and saves what the CRM answered', async () => {
  const fixture = await readFixture(join(import.meta.dirname, '../fixtures/contacts.json'));
  expect(fixture.context.lastSyncDate).not.toBeNull();
  const run = await tester.run({ script: join(import.meta.dirname, 'contacts.ts'), fixture });
  expect(run.error).toBeUndefined();
  expect(run.requests[0]?.params).toMatchObject({ updated_since: fixture.context.lastSyncDate });
  const recorded = fixture.exchanges.flatMap((e) => (e.response.json as { data: Contact[] }).data);
  expect(recorded.length).toBeGreaterThan(0);
  expect(run.records('Contact')).toEqual(recorded);
});

it('fails with a pointer to re-record when the script asks for something the fixture lacks', async () => {
  const fixture = await readFixture(join(import.meta.dirname, '../fixtures/contacts.json'));
  const run = await tester.run({ script: join(import.meta.dirname, 'contacts.ts'), fixture, lastSyncDate: null });
  expect(run.ok).toBe(false);
  expect(run.error?.message).toMatch(/no recorded response for GET \/v1\/contacts\?limit=100/);
  expect(run.error?.message).toMatch(/--save/);
});
