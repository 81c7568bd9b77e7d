/** The demo billing tool's invoice (amounts in minor units, as the API returns them). */
import { z } from 'zod';

export const InvoiceSchema = z.object({
  id: z.string(),
  number: z.string(),
  customer: z.object({ id: z.string(), name: z.string(), email: z.string() }),
  currency: z.enum(['EUR', 'USD', 'GBP']),
  status: z.enum(['draft', 'open', 'paid', 'uncollectible']),
  lines: z.array(z.object({ description: z.string(), quantity: z.number().int(), unit_amount: z.number().int() })),
  total: z.number().int(),
  issued_at: z.string(),
  due_at: z.string(),
  updated_at: z.string(),
});
export type Invoice = z.infer<typeof InvoiceSchema>;

export interface InvoicesPage {
  invoices: Invoice[];
  total: number;
  offset: number;
  limit: number;
}
