/**
 * The Node client against a real host: records as an async iterator whose cursor resumes exactly
 * where the app stopped, trigger a sync and an action, typed errors carrying the API's code.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createFerryClient, isFerryApiError, type FerryClient } from '../../client/index.ts';
import { deployScripts } from '../../cli/deploy.ts';
import { startDemoProvider, type DemoProvider } from '../../demo/provider.ts';
import { startTestFerry, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const SCRIPTS_DIR = fileURLToPath(new URL('../../scripts', import.meta.url));
const CONNECTION = 'client-crm';

let ferry: TestFerry;
let provider: DemoProvider;
let client: FerryClient;
let firstRunId: string;

beforeAll(async () => {
  provider = await startDemoProvider({ apiKey: 'provider-key', contacts: 30, seed: 3 });
  ferry = await startTestFerry();
  client = createFerryClient({ url: ferry.url, secretKey: TEST_SECRET_KEY });
  await deployScripts({ dir: SCRIPTS_DIR, url: ferry.url, key: TEST_SECRET_KEY });
  await client.request('PUT', '/providers/demo', { base_url: provider.url, auth: { type: 'bearer' } });
  await client.request('POST', '/connections', { connection_id: CONNECTION, provider: 'demo', credentials: { type: 'bearer', token: 'provider-key' } });
  firstRunId = (await waitForRun(ferry.api, CONNECTION, 'contacts')).id;
});
afterAll(async () => {
  await ferry?.close();
  await provider?.close();
});

async function collect<T>(iterable: AsyncIterable<T>, stopAfter = Infinity): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) {
    out.push(item);
    if (out.length >= stopAfter) break;
  }
  return out;
}

test('records: every record across pages; stopping mid-page and resuming from .cursor continues exactly there', async () => {
  const all = await collect(client.records<{ email: string }>({ connectionId: CONNECTION, model: 'Contact', limit: 7 }));
  expect(all).toHaveLength(30);
  expect(new Set(all.map((r) => r.id))).toEqual(new Set(provider.contacts().map((c) => c.id)));
  expect(all[0]!.email).toMatch(/@/);

  const first = client.records({ connectionId: CONNECTION, model: 'Contact', limit: 7 });
  const head = await collect(first, 10); // stops in the middle of the second page
  expect(first.cursor).toBe(head.at(-1)!._ferry_metadata.cursor);
  const rest = client.records({ connectionId: CONNECTION, model: 'Contact', limit: 7, cursor: first.cursor });
  const tail = await collect(rest);
  expect([...head, ...tail].map((r) => r.id)).toEqual(all.map((r) => r.id));
  expect(rest.cursor).toBe(all.at(-1)!._ferry_metadata.cursor);

  // Nothing new: the iterator ends at once and keeps the cursor.
  const idle = client.records({ connectionId: CONNECTION, model: 'Contact', cursor: rest.cursor });
  expect(await collect(idle)).toEqual([]);
  expect(idle.cursor).toBe(rest.cursor);

  const page = await client.recordsPage({ connectionId: CONNECTION, model: 'Contact', ids: [all[3]!.id, all[1]!.id] });
  expect(page.records.map((r) => r.id)).toEqual([all[1]!.id, all[3]!.id]);
});

test('triggerSync queues a run that then finishes; the changes arrive through the kept cursor', async () => {
  const start = await collect(client.records({ connectionId: CONNECTION, model: 'Contact' }));
  const cursor = start.at(-1)!._ferry_metadata.cursor;
  const changed = provider.updateContacts(2);
  expect(await client.triggerSync('contacts', { connectionId: CONNECTION })).toEqual({ queued: true });
  const run = await waitForRun(ferry.api, CONNECTION, 'contacts', firstRunId);
  expect(run.status).toBe('succeeded');
  const delta = await collect(client.records({ connectionId: CONNECTION, model: 'Contact', cursor }));
  expect(delta.map((r) => r.id).sort()).toEqual([...changed].sort());
});

test('triggerAction returns the validated output; failures are FerryApiErrors with the API code', async () => {
  const created = await client.triggerAction<{ id: string; email: string }>('create-contact', {
    connectionId: CONNECTION,
    input: { first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com' },
  });
  expect(created.output.email).toBe('ada@example.com');
  expect(created.runId).toMatch(/^\d+$/);

  const invalid = await client.triggerAction('create-contact', { connectionId: CONNECTION, input: { email: 'not an email' } }).catch((e: unknown) => e);
  expect(isFerryApiError(invalid) && invalid.status === 400 && invalid.code === 'INVALID_INPUT').toBe(true);

  const missing = await client.triggerSync('contacts', { connectionId: 'nobody' }).catch((e: unknown) => e);
  expect(isFerryApiError(missing) && missing.status === 404 && missing.code === 'NOT_FOUND').toBe(true);

  const badQuery = await client.recordsPage({ connectionId: CONNECTION, model: 'Contact', limit: 0 }).catch((e: unknown) => e);
  expect(isFerryApiError(badQuery) && badQuery.code === 'INVALID_REQUEST' && badQuery.issues?.[0]?.path.join('.') === 'query.limit').toBe(true);

  const unauthorised = await createFerryClient({ url: ferry.url, secretKey: 'fsk_wrong_key_000000000' }).recordsPage({ connectionId: CONNECTION, model: 'Contact' }).catch((e: unknown) => e);
  expect(isFerryApiError(unauthorised) && unauthorised.code === 'UNAUTHORIZED').toBe(true);

  const unreachable = await createFerryClient({ url: 'http://127.0.0.1:9', secretKey: 'x', retries: 0 }).recordsPage({ connectionId: 'a', model: 'b' }).catch((e: unknown) => e);
  expect(isFerryApiError(unreachable) && unreachable.status === 0 && unreachable.code === 'NETWORK_ERROR').toBe(true);
});
