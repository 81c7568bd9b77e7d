/**
 * The demo billing tool (Stripe/Chargebee-like), mounted at `/billing`: invoices listed by
 * offset and limit, with no "changed since" filter and deletions that simply vanish from the
 * listing. Only a full refresh that notices what is missing can keep up with it.
 */
import { createRandom, pick, type Random } from './contact-generator.ts';
import { createClock, HttpError, intParam, type DemoApi } from './http.ts';

export interface InvoiceLine {
  description: string;
  quantity: number;
  /** Minor units (cents). */
  unit_amount: number;
}

export interface Invoice {
  id: string;
  number: string;
  customer: { id: string; name: string; email: string };
  currency: 'EUR' | 'USD' | 'GBP';
  status: 'draft' | 'open' | 'paid' | 'uncollectible';
  lines: InvoiceLine[];
  /** Minor units (cents): the sum of the lines. */
  total: number;
  issued_at: string;
  due_at: string;
  updated_at: string;
}

export interface Billing extends DemoApi {
  invoices(): Invoice[];
  /** Adds n open invoices; returns their ids. */
  addInvoices(n: number): string[];
  /** Marks n open invoices paid; returns their ids. */
  payInvoices(n: number): string[];
  /** Deletes n invoices: they vanish from the listing without a trace; returns their ids. */
  deleteInvoices(n: number): string[];
}

const CUSTOMERS = [
  { id: 'cus_acme', name: 'Acme Logistics', email: 'ap@acme.example' },
  { id: 'cus_globex', name: 'Globex', email: 'billing@globex.example' },
  { id: 'cus_initech', name: 'Initech', email: 'finance@initech.example' },
  { id: 'cus_hooli', name: 'Hooli', email: 'payables@hooli.example' },
  { id: 'cus_tyrell', name: 'Tyrell Systems', email: 'accounts@tyrell.example' },
];
const PRODUCTS: ReadonlyArray<[string, number]> = [['Team plan (monthly)', 4900], ['Extra seat', 900], ['Priority support', 19900], ['API overage (1k calls)', 150], ['Onboarding workshop', 75000]];
const SEED_EPOCH = Date.parse('2024-02-01T00:00:00.000Z');
export const MAX_INVOICES_PER_PAGE = 100;

function generateInvoice(random: Random, sequence: number, issued: Date): Invoice {
  const lines = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
    const [description, unit_amount] = pick(random, PRODUCTS);
    return { description, quantity: 1 + Math.floor(random() * 5), unit_amount };
  });
  return {
    id: `in_${String(sequence).padStart(5, '0')}`,
    number: `INV-${issued.getUTCFullYear()}-${String(sequence).padStart(5, '0')}`,
    customer: { ...pick(random, CUSTOMERS) },
    currency: pick(random, ['EUR', 'USD', 'GBP'] as const),
    status: pick(random, ['draft', 'open', 'paid', 'paid', 'uncollectible'] as const),
    lines,
    total: lines.reduce((sum, l) => sum + l.quantity * l.unit_amount, 0),
    issued_at: issued.toISOString(),
    due_at: new Date(issued.getTime() + 30 * 86_400_000).toISOString(),
    updated_at: issued.toISOString(),
  };
}

export function createBilling(options: { invoices?: number; seed?: number } = {}): Billing {
  const random = createRandom(options.seed ?? 11);
  const clock = createClock();
  const invoices = new Map<string, Invoice>();
  let sequence = 1;
  const count = options.invoices ?? 150;
  for (let i = 0; i < count; i++) {
    const invoice = generateInvoice(random, sequence++, new Date(SEED_EPOCH - (count - i) * 86_400_000));
    invoices.set(invoice.id, invoice);
  }
  /** Invoices in id order (ids are zero-padded, so string order is creation order). */
  const ordered = () => [...invoices.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const pickIds = (n: number, filter: (i: Invoice) => boolean = () => true) => ordered().filter(filter).sort(() => random() - 0.5).slice(0, n).map((i) => i.id);

  return {
    prefix: '/billing',
    async handle(method, path, query) {
      if (method === 'GET' && path === '/v1/invoices') {
        const offset = intParam(query, 'offset', 0, 0, 1_000_000);
        const limit = intParam(query, 'limit', 25, 1, MAX_INVOICES_PER_PAGE);
        const all = ordered();
        return { status: 200, body: { invoices: all.slice(offset, offset + limit).map((i) => structuredClone(i)), total: all.length, offset, limit } };
      }
      const one = /^\/v1\/invoices\/([^/]+)$/.exec(path);
      if (one && method === 'GET') {
        const invoice = invoices.get(decodeURIComponent(one[1] as string));
        if (!invoice) throw new HttpError(404, 'resource_missing', 'no such invoice');
        return { status: 200, body: structuredClone(invoice) };
      }
      throw new HttpError(404, 'not_found', `no route for ${method} /billing${path}`);
    },
    invoices: () => ordered().map((i) => structuredClone(i)),
    addInvoices(n) {
      return Array.from({ length: n }, () => {
        const invoice = generateInvoice(random, sequence++, clock());
        invoice.status = 'open';
        invoices.set(invoice.id, invoice);
        return invoice.id;
      });
    },
    payInvoices(n) {
      const ids = pickIds(n, (i) => i.status === 'open');
      for (const id of ids) {
        const invoice = invoices.get(id) as Invoice;
        invoice.status = 'paid';
        invoice.updated_at = clock().toISOString();
      }
      return ids;
    },
    deleteInvoices(n) {
      const ids = pickIds(n);
      for (const id of ids) invoices.delete(id);
      return ids;
    },
  };
}
