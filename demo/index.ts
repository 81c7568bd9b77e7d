/** The demo providers: a real HTTP server for tests, benchmarks and the `npm start` demo. */
export { DEFAULT_PAGE_LIMIT, DEMO_PROVIDERS, MAX_PAGE_LIMIT, startDemoProvider, type Contact, type DemoProvider, type DemoProviderName, type DemoProviderOptions, type RequestLogEntry } from './provider.ts';
export type { Billing, Invoice, InvoiceLine } from './billing.ts';
export type { Channel, Chat, ChatMessage } from './chat.ts';
export type { Helpdesk, Ticket, TicketPriority, TicketStatus, WebhookDelivery } from './helpdesk.ts';
