import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startDemoProvider, type Contact, type DemoProvider } from '../../demo/provider.ts';

const API_KEY = 'test-key';
let provider: DemoProvider;

beforeEach(async () => {
  provider = await startDemoProvider({ apiKey: API_KEY, contacts: 230, seed: 7 });
});
afterEach(async () => {
  await provider.close();
});

async function get(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${provider.url}${path}`, { ...init, headers: { authorization: `Bearer ${API_KEY}`, ...init.headers } });
}

async function listAll(query: Record<string, string> = {}): Promise<{ contacts: Contact[]; pages: number }> {
  const contacts: Contact[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const params = new URLSearchParams({ ...query, ...(cursor && { cursor }) });
    const res = await get(`/v1/contacts?${params}`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as { data: Contact[]; next_cursor: string | null };
    contacts.push(...page.data);
    cursor = page.next_cursor;
    pages++;
  } while (cursor);
  return { contacts, pages };
}

describe('demo provider', () => {
  it('pages through every contact exactly once, in (updated_at, id) order', async () => {
    const { contacts, pages } = await listAll({ limit: '50' });
    expect(pages).toBe(5);
    const ids = contacts.map((c) => c.id);
    expect(new Set(ids).size).toBe(230);
    expect(ids.sort()).toEqual(provider.contacts().map((c) => c.id).sort());
    const keys = contacts.map((c) => `${c.updated_at}|${c.id}`);
    expect([...keys].sort()).toEqual(keys);
  });

  it('serves realistic ~1 KB contacts, the same ones for the same seed', async () => {
    const twin = await startDemoProvider({ apiKey: API_KEY, contacts: 230, seed: 7 });
    try {
      expect(twin.contacts()).toEqual(provider.contacts());
    } finally {
      await twin.close();
    }
    const sizes = provider.contacts().map((c) => JSON.stringify(c).length);
    const average = sizes.reduce((a, b) => a + b, 0) / sizes.length;
    expect(average).toBeGreaterThan(500);
    expect(average).toBeLessThan(2000);
  });

  it('defaults to 100 per page and refuses a limit over 500', async () => {
    const page = (await (await get('/v1/contacts')).json()) as { data: Contact[] };
    expect(page.data).toHaveLength(100);
    expect((await get('/v1/contacts?limit=501')).status).toBe(400);
  });

  it('returns only contacts changed since updated_since', async () => {
    const since = new Date();
    const updated = provider.updateContacts(7);
    const added = provider.addContacts(3);
    const { contacts } = await listAll({ updated_since: since.toISOString(), limit: '4' });
    expect(contacts.map((c) => c.id).sort()).toEqual([...updated, ...added].sort());
  });

  it('hides deleted contacts from listings', async () => {
    const deleted = provider.deleteContacts(5);
    const { contacts } = await listAll({ limit: '500' });
    expect(contacts).toHaveLength(225);
    expect(contacts.some((c) => deleted.includes(c.id))).toBe(false);
  });

  it('creates a contact with POST and lists it as changed', async () => {
    const since = new Date().toISOString();
    const res = await get('/v1/contacts', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com' }),
    });
    expect(res.status).toBe(201);
    const { data } = (await res.json()) as { data: Contact };
    expect(data).toMatchObject({ first_name: 'Ada', email: 'ada@example.com' });
    const { contacts } = await listAll({ updated_since: since });
    expect(contacts.map((c) => c.id)).toEqual([data.id]);
    const invalid = await get('/v1/contacts', { method: 'POST', body: JSON.stringify({ first_name: 'x' }) });
    expect(invalid.status).toBe(422);
  });

  it('refuses requests without the bearer key', async () => {
    const missing = await fetch(`${provider.url}/v1/contacts`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    const wrong = await fetch(`${provider.url}/v1/contacts`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
  });

  it('answers 429 with Retry-After when rate limiting, then recovers', async () => {
    provider.rateLimitNext(2, 2);
    for (let i = 0; i < 2; i++) {
      const res = await get('/v1/contacts');
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('2');
    }
    expect((await get('/v1/contacts')).status).toBe(200);
  });

  it('answers the status given to failNext, as many times as asked', async () => {
    provider.failNext(500, 1);
    expect((await get('/v1/contacts')).status).toBe(500);
    expect((await get('/v1/contacts')).status).toBe(200);
    provider.failNext(503, 2);
    expect((await get('/v1/contacts')).status).toBe(503);
    expect((await get('/v1/contacts')).status).toBe(503);
    expect((await get('/v1/contacts')).status).toBe(200);
  });

  it('delays answers with delayNext', async () => {
    provider.delayNext(150, 1);
    const started = performance.now();
    expect((await get('/v1/contacts?limit=1')).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('logs each request with its method, path, query and status', async () => {
    await get('/v1/contacts?updated_since=2024-06-01T00:00:00.000Z&limit=10');
    await fetch(`${provider.url}/v1/contacts`);
    expect(provider.requests).toEqual([
      { method: 'GET', path: '/v1/contacts', query: { updated_since: '2024-06-01T00:00:00.000Z', limit: '10' }, at: expect.any(String), status: 200 },
      { method: 'GET', path: '/v1/contacts', query: {}, at: expect.any(String), status: 401 },
    ]);
  });

  it('changes contacts by itself when drift is on', async () => {
    const drifting = await startDemoProvider({ apiKey: API_KEY, contacts: 20, driftEveryMs: 20 });
    try {
      const since = new Date().toISOString();
      await new Promise((resolve) => setTimeout(resolve, 120));
      const res = await fetch(`${drifting.url}/v1/contacts?updated_since=${since}`, { headers: { authorization: `Bearer ${API_KEY}` } });
      const page = (await res.json()) as { data: Contact[] };
      expect(page.data.length).toBeGreaterThan(0);
    } finally {
      await drifting.close();
    }
  });
});
