/**
 * The helpdesk, billing and chat APIs the demo server mounts beside its CRM: paging, hidden
 * deletions, signed webhooks and Slack-style `{ ok: false }` answers, over real HTTP.
 */
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoProvider, type DemoProvider } from '../../demo/index.ts';

let provider: DemoProvider;
const KEY = 'demo-apis-key';

beforeAll(async () => {
  provider = await startDemoProvider({ apiKey: KEY, contacts: 10, tickets: 30, invoices: 45, seed: 5 });
});
afterAll(async () => {
  await provider.close();
});

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

describe('helpdesk', () => {
  it('pages every ticket by token, then lists only tickets updated after a date', async () => {
    const ids: string[] = [];
    let token: string | null = null;
    do {
      const { body } = await call('GET', `${provider.baseUrls.helpdesk}/api/v2/tickets?per_page=12${token ? `&page_token=${token}` : ''}`);
      ids.push(...body.tickets.map((t: { id: string }) => t.id));
      token = body.next_page_token;
    } while (token);
    expect(ids).toHaveLength(30);
    expect(new Set(ids).size).toBe(30);

    const since = new Date().toISOString();
    const changed = await provider.helpdesk.updateTickets(3);
    const { body } = await call('GET', `${provider.baseUrls.helpdesk}/api/v2/tickets?updated_after=${since}`);
    expect(body.tickets.map((t: { id: string }) => t.id).sort()).toEqual([...changed].sort());
  });

  it('POSTs a signed webhook to the subscriber for every change', async () => {
    const received: Array<{ body: string; signature: string | undefined }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ body, signature: req.headers['x-helpdesk-signature'] as string | undefined });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      provider.helpdesk.subscribe(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, 'whsec');
      const [id] = await provider.helpdesk.createTickets(1);
      const patched = await call('PATCH', `${provider.baseUrls.helpdesk}/api/v2/tickets/${id}`, { status: 'solved' });
      expect(patched.body.ticket.status).toBe('solved');
      expect(received.map((r) => JSON.parse(r.body).type)).toEqual(['ticket.created', 'ticket.updated']);
      for (const r of received) expect(r.signature).toBe(`sha256=${createHmac('sha256', 'whsec').update(r.body).digest('hex')}`);
      expect(JSON.parse(received[1]!.body).ticket).toMatchObject({ id, status: 'solved' });
      expect(provider.helpdesk.deliveries.slice(-2).map((d) => d.status)).toEqual([202, 202]);
    } finally {
      server.close();
    }
  });
});

describe('billing', () => {
  it('pages by offset, and a deleted invoice simply disappears from the listing', async () => {
    const first = await call('GET', `${provider.baseUrls.billing}/v1/invoices?offset=0&limit=20`);
    expect(first.body).toMatchObject({ total: 45, offset: 0, limit: 20 });
    expect(first.body.invoices).toHaveLength(20);
    const invoice = first.body.invoices[0];
    expect(invoice.total).toBe(invoice.lines.reduce((s: number, l: { quantity: number; unit_amount: number }) => s + l.quantity * l.unit_amount, 0));

    const [gone] = provider.billing.deleteInvoices(1);
    const all = await call('GET', `${provider.baseUrls.billing}/v1/invoices?offset=0&limit=100`);
    expect(all.body.total).toBe(44);
    expect(all.body.invoices.map((i: { id: string }) => i.id)).not.toContain(gone);
    expect((await call('GET', `${provider.baseUrls.billing}/v1/invoices/${gone}`)).status).toBe(404);
  });
});

describe('chat', () => {
  it('posts a message, and refuses unknown or archived channels with 200 { ok: false }', async () => {
    const posted = await call('POST', `${provider.baseUrls.chat}/api/chat.postMessage`, { channel: 'support', text: 'Ticket tk_00001 escalated' });
    expect(posted).toMatchObject({ status: 200, body: { ok: true, channel: 'C0SUPPORT', message: { text: 'Ticket tk_00001 escalated' } } });
    expect(provider.chat.messages('C0SUPPORT').map((m) => m.text)).toEqual(['Ticket tk_00001 escalated']);
    expect((await call('POST', `${provider.baseUrls.chat}/api/chat.postMessage`, { channel: 'nope', text: 'x' })).body).toEqual({ ok: false, error: 'channel_not_found' });
    expect((await call('POST', `${provider.baseUrls.chat}/api/chat.postMessage`, { channel: 'C0OLD', text: 'x' })).body).toEqual({ ok: false, error: 'is_archived' });
  });

  it('needs the bearer key like every demo API', async () => {
    const response = await fetch(`${provider.baseUrls.chat}/api/conversations.list`);
    expect(response.status).toBe(401);
  });
});
