/** The create-contact action: against the live demo CRM, and replayed from its recorded response. */
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startDemoProvider } from '../../../demo/index.ts';
import { createScriptTester, liveProxy, readFixture } from '../../../testing/index.ts';

const SCRIPT = join(import.meta.dirname, 'create-contact.ts');
const tester = createScriptTester();
afterAll(() => tester.close());

it('creates the contact in the live CRM and returns it as stored; a refusal is a typed ActionError', async () => {
  const provider = await startDemoProvider({ apiKey: 'crm-key', contacts: 3 });
  try {
    const proxy = liveProxy({ baseUrl: provider.baseUrls.demo, headers: { authorization: 'Bearer crm-key' } });
    const run = await tester.run({ script: SCRIPT, proxy, input: { first_name: 'Mae', last_name: 'Jemison', email: 'mae@example.com' } });
    expect(run.error).toBeUndefined();
    expect(run.output).toMatchObject({ id: 'ct_000004', email: 'mae@example.com' });
    expect(provider.contacts().map((c) => c.email)).toContain('mae@example.com');

    provider.failNext(422);
    const refused = await tester.run({ script: SCRIPT, proxy, input: { first_name: 'A', last_name: 'B', email: 'a@b.co' } });
    expect(refused.error).toMatchObject({ code: 'ACTION_ERROR', type: 'provider_rejected' });
  } finally {
    await provider.close();
  }
});

it('replays the recorded creation with the recorded input', async () => {
  const fixture = await readFixture(join(import.meta.dirname, '../fixtures/create-contact.json'));
  const run = await tester.run({ script: SCRIPT, fixture });
  expect(run.error).toBeUndefined();
  expect(run.output).toEqual((fixture.exchanges[0]!.response.json as { data: unknown }).data);
});
