/** The demo helpdesk's ticket and the webhook it sends on every change. */
import { z } from 'zod';

export const TicketSchema = z.object({
  id: z.string(),
  subject: z.string(),
  description: z.string(),
  status: z.enum(['new', 'open', 'pending', 'solved', 'closed']),
  priority: z.enum(['low', 'normal', 'high', 'urgent']),
  requester_email: z.string(),
  assignee: z.string().nullable(),
  tags: z.array(z.string()),
  created_at: z.string(),
  updated_at: z.string(),
});
export type Ticket = z.infer<typeof TicketSchema>;

export const TicketEventSchema = z.object({
  type: z.enum(['ticket.created', 'ticket.updated']),
  account_id: z.string(),
  sent_at: z.string(),
  ticket: TicketSchema,
});

export interface TicketsPage {
  tickets: Ticket[];
  next_page_token: string | null;
}
