/**
 * The tickets sync in the real runtime (ferry/testing): against the live demo helpdesk — full
 * read, checkpoint per page, resume from a checkpoint, webhook updates — and replayed from the
 * responses `ferry dryrun tickets --save` recorded.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { startDemoProvider, type DemoProvider } from '../../../demo/index.ts';
import { createScriptTester, liveProxy, readFixture } from '../../../testing/index.ts';
import type { Ticket } from '../models.ts';

const SCRIPT = join(import.meta.dirname, 'tickets.ts');
const FIXTURE = join(import.meta.dirname, '../fixtures/tickets.json');
const tester = createScriptTester();
let provider: DemoProvider;

afterAll(() => tester.close());

describe('tickets against the live demo helpdesk', () => {
  beforeEach(async () => {
    provider = await startDemoProvider({ apiKey: 'helpdesk-key', contacts: 1, tickets: 120, seed: 3 });
  });
  afterEach(() => provider.close());
  const live = () => liveProxy({ baseUrl: provider.baseUrls.helpdesk, headers: { authorization: 'Bearer helpdesk-key' } });

  it('reads every ticket page by page, checkpointing after each page and clearing at the end', async () => {
    const run = await tester.run({ script: SCRIPT, proxy: live() });
    expect(run.error).toBeUndefined();
    expect(run.records<Ticket>('Ticket').map((t) => t.id).sort()).toEqual(provider.helpdesk.tickets().map((t) => t.id).sort());
    expect(run.requests).toHaveLength(3); // 50 + 50 + 20
    expect(run.checkpoints).toEqual([
      { updated_after: null, page_token: expect.any(String) },
      { updated_after: null, page_token: expect.any(String) },
      null,
    ]);
  });

  it('resumes from a saved checkpoint: only the pages after it are read', async () => {
    const first = await tester.run({ script: SCRIPT, proxy: live() });
    const afterFirstPage = first.checkpoints[0] as Record<string, string | null>;
    const resumed = await tester.run({ script: SCRIPT, proxy: live(), lastSyncDate: null, checkpoint: afterFirstPage });
    expect(resumed.records('Ticket')).toHaveLength(70);
    expect(resumed.requests[0]?.params).toMatchObject({ page_token: afterFirstPage['page_token'] });
  });

  it('asks only for tickets updated since the last sync', async () => {
    const since = new Date();
    const changed = await provider.helpdesk.updateTickets(4);
    const run = await tester.run({ script: SCRIPT, proxy: live(), lastSyncDate: since });
    expect(run.records<Ticket>('Ticket').map((t) => t.id).sort()).toEqual([...changed].sort());
    expect(run.requests[0]?.params).toMatchObject({ updated_after: since.toISOString() });
  });

  it('saves the ticket a webhook carries, and ignores a payload that is not a ticket event', async () => {
    const ticket = provider.helpdesk.tickets()[0]!;
    const event = { type: 'ticket.updated', account_id: 'acme', sent_at: new Date().toISOString(), ticket: { ...ticket, status: 'solved' } };
    const run = await tester.run({ script: SCRIPT, proxy: live(), webhook: event });
    expect(run.error).toBeUndefined();
    expect(run.records('Ticket')).toEqual([{ ...ticket, status: 'solved' }]);
    expect(run.requests).toHaveLength(0);

    const ignored = await tester.run({ script: SCRIPT, proxy: live(), webhook: { hello: 'world' } });
    expect(ignored.ok).toBe(true);
    expect(ignored.records('Ticket')).toEqual([]);
    expect(ignored.logs.map((l) => l.level)).toContain('warn');
  });
});

describe('tickets replayed from recorded responses', () => {
  it('saves what the provider answered when the fixture was recorded', async () => {
    const fixture = await readFixture(FIXTURE);
    const run = await tester.run({ script: SCRIPT, fixture });
    expect(run.error).toBeUndefined();
    const recorded = fixture.exchanges.flatMap((e) => (e.response.json as { tickets: Ticket[] }).tickets);
    expect(run.records('Ticket')).toEqual(recorded);
    expect(run.requests).toHaveLength(fixture.exchanges.length);
    expect(run.checkpoints.at(-1)).toBeNull();
  });
});
