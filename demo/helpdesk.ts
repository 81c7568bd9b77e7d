/**
 * The demo helpdesk (Zendesk-like), mounted at `/helpdesk`: tickets listed incrementally by
 * `updated_after` with opaque page tokens, updated by PATCH, and a signed webhook POSTed to a
 * subscriber on every change, so webhook-driven syncs can be exercised for real.
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createRandom, pick, type Random } from './contact-generator.ts';
import { createClock, dateParam, HttpError, intParam, objectBody, readJson, type DemoApi, type Reply } from './http.ts';

export type TicketStatus = 'new' | 'open' | 'pending' | 'solved' | 'closed';
export type TicketPriority = 'low' | 'normal' | 'high' | 'urgent';

export interface Ticket {
  id: string;
  subject: string;
  description: string;
  status: TicketStatus;
  priority: TicketPriority;
  requester_email: string;
  assignee: string | null;
  tags: string[];
  created_at: string;
  updated_at: string;
}

export interface WebhookDelivery {
  type: string;
  ticketId: string;
  /** HTTP status of the subscriber's answer, 0 when it could not be reached. */
  status: number;
}

export interface Helpdesk extends DemoApi {
  tickets(): Ticket[];
  /** Changes n tickets' status or priority; each change is POSTed to the subscriber. Returns their ids. */
  updateTickets(n: number): Promise<string[]>;
  /** Opens n new tickets (webhook `ticket.created` each). */
  createTickets(n: number): Promise<string[]>;
  /**
   * Where webhooks go; `secret` signs them (`x-helpdesk-signature: sha256=<hex hmac of the body>`)
   * and `accountId` is the account they name (`account_id`, what Ferry routes to a connection by).
   */
  subscribe(url: string, secret: string, accountId?: string): void;
  readonly deliveries: WebhookDelivery[];
}

const SUBJECTS = [
  'Cannot log in after password reset', 'Invoice shows the wrong VAT number', 'Export to CSV times out',
  'Feature request: dark mode', 'SSO with Okta fails for new users', 'Webhook deliveries delayed',
  'Charged twice this month', 'How do I add a teammate?', 'Mobile app crashes on start', 'API returns 502 intermittently',
];
const AGENTS = ['maria@helpdesk.example', 'kenji@helpdesk.example', 'olu@helpdesk.example', null];
const TAGS = ['billing', 'login', 'bug', 'feature', 'api', 'mobile', 'vip', 'sso'];
const STATUSES: TicketStatus[] = ['new', 'open', 'pending', 'solved', 'closed'];
const PRIORITIES: TicketPriority[] = ['low', 'normal', 'high', 'urgent'];
const SEED_EPOCH = Date.parse('2024-03-01T00:00:00.000Z');
export const MAX_TICKETS_PER_PAGE = 100;

function ticketId(sequence: number): string {
  return `tk_${String(sequence).padStart(5, '0')}`;
}

function generateTicket(random: Random, sequence: number, at: Date): Ticket {
  const subject = pick(random, SUBJECTS);
  return {
    id: ticketId(sequence),
    subject,
    description: `${subject}. Reported by a customer on the ${pick(random, ['web', 'email', 'chat', 'phone'])} channel; steps to reproduce attached.`,
    status: pick(random, STATUSES),
    priority: pick(random, PRIORITIES),
    requester_email: `customer${1 + Math.floor(random() * 500)}@example.com`,
    assignee: pick(random, AGENTS),
    tags: [...new Set([pick(random, TAGS), pick(random, TAGS)])],
    created_at: at.toISOString(),
    updated_at: at.toISOString(),
  };
}

function encodeToken(ticket: Ticket): string {
  return Buffer.from(`${ticket.updated_at}|${ticket.id}`).toString('base64url');
}

function decodeToken(token: string): [string, string] {
  const [updatedAt, id] = Buffer.from(token, 'base64url').toString('utf8').split('|');
  if (!updatedAt || !id || Number.isNaN(Date.parse(updatedAt))) throw new HttpError(400, 'invalid_page_token', 'page_token is not one this API issued');
  return [updatedAt, id];
}

const byKey = (a: Ticket, b: Ticket) => (a.updated_at < b.updated_at ? -1 : a.updated_at > b.updated_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function createHelpdesk(options: { tickets?: number; seed?: number } = {}): Helpdesk {
  const random = createRandom(options.seed ?? 7);
  const clock = createClock();
  const tickets = new Map<string, Ticket>();
  let sequence = 1;
  const count = options.tickets ?? 120;
  for (let i = 0; i < count; i++) {
    const ticket = generateTicket(random, sequence++, new Date(SEED_EPOCH - (count - i) * 600_000));
    tickets.set(ticket.id, ticket);
  }
  let subscriber: { url: string; secret: string; accountId: string } | null = null;
  const deliveries: WebhookDelivery[] = [];

  async function notify(type: string, ticket: Ticket): Promise<void> {
    if (!subscriber) return;
    const body = JSON.stringify({ type, account_id: subscriber.accountId, sent_at: new Date().toISOString(), ticket });
    const signature = createHmac('sha256', subscriber.secret).update(body).digest('hex');
    let status = 0;
    try {
      const response = await fetch(subscriber.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-helpdesk-signature': `sha256=${signature}` }, body });
      status = response.status;
      await response.body?.cancel();
    } catch {
      // Recorded with status 0: a real helpdesk would retry later; the demo only records it.
    }
    deliveries.push({ type, ticketId: ticket.id, status });
  }

  function list(query: URLSearchParams): Reply {
    const perPage = intParam(query, 'per_page', 50, 1, MAX_TICKETS_PER_PAGE);
    const since = dateParam(query, 'updated_after')?.toISOString();
    const token = query.get('page_token');
    const after = token ? decodeToken(token) : null;
    const ordered = [...tickets.values()].sort(byKey).filter((t) => (!since || t.updated_at >= since) && (!after || t.updated_at > after[0] || (t.updated_at === after[0] && t.id > after[1])));
    const page = ordered.slice(0, perPage);
    const last = page.at(-1);
    return { status: 200, body: { tickets: page.map((t) => structuredClone(t)), next_page_token: ordered.length > perPage && last ? encodeToken(last) : null } };
  }

  async function patch(id: string, req: IncomingMessage): Promise<Reply> {
    const ticket = tickets.get(id);
    if (!ticket) throw new HttpError(404, 'not_found', `no ticket ${id}`);
    const body = objectBody(await readJson(req));
    if (body['status'] !== undefined) {
      if (!STATUSES.includes(body['status'] as TicketStatus)) throw new HttpError(422, 'invalid_status', `status must be one of ${STATUSES.join(', ')}`);
      ticket.status = body['status'] as TicketStatus;
    }
    if (body['priority'] !== undefined) {
      if (!PRIORITIES.includes(body['priority'] as TicketPriority)) throw new HttpError(422, 'invalid_priority', `priority must be one of ${PRIORITIES.join(', ')}`);
      ticket.priority = body['priority'] as TicketPriority;
    }
    ticket.updated_at = clock().toISOString();
    await notify('ticket.updated', ticket);
    return { status: 200, body: { ticket: structuredClone(ticket) } };
  }

  return {
    prefix: '/helpdesk',
    deliveries,
    async handle(method, path, query, req) {
      if (method === 'GET' && path === '/api/v2/tickets') return list(query);
      const one = /^\/api\/v2\/tickets\/([^/]+)$/.exec(path);
      if (one && method === 'GET') {
        const ticket = tickets.get(decodeURIComponent(one[1] as string));
        if (!ticket) throw new HttpError(404, 'not_found', 'no such ticket');
        return { status: 200, body: { ticket: structuredClone(ticket) } };
      }
      if (one && method === 'PATCH') return patch(decodeURIComponent(one[1] as string), req);
      throw new HttpError(404, 'not_found', `no route for ${method} /helpdesk${path}`);
    },
    tickets: () => [...tickets.values()].sort(byKey).map((t) => structuredClone(t)),
    async updateTickets(n) {
      const ids = [...tickets.keys()].sort(() => random() - 0.5).slice(0, n);
      for (const id of ids) {
        const ticket = tickets.get(id) as Ticket;
        if (random() < 0.5) ticket.status = pick(random, STATUSES.filter((s) => s !== ticket.status));
        else ticket.priority = pick(random, PRIORITIES.filter((p) => p !== ticket.priority));
        ticket.updated_at = clock().toISOString();
        await notify('ticket.updated', ticket);
      }
      return ids;
    },
    async createTickets(n) {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const ticket = generateTicket(random, sequence++, clock());
        ticket.status = 'new';
        tickets.set(ticket.id, ticket);
        ids.push(ticket.id);
        await notify('ticket.created', ticket);
      }
      return ids;
    },
    subscribe(url, secret, accountId = 'acme') {
      subscriber = { url, secret, accountId };
    },
  };
}
