/**
 * An asynchronous action whose start (the call's claim and its run row, one transaction) committed
 * unseen — the connection to Postgres dropped right after COMMIT, before its answer — runs once,
 * at once. The start is tried again like any lost write, and finds the call already claimed: it
 * used to give up there ("taken by another delivery"), leaving the call and its run 'running' with
 * no process until the stale-run sweep (FERRY_STALE_RUN_MS, 60 s) failed it as WORKER_LOST, the
 * action never performed. Now the repeat recognises the run row it wrote itself and carries on
 * with it. A second delivery still cannot run the call twice: it finds it claimed with a run that
 * is not its own. Through a whole host whose database connections go through a TCP proxy that
 * drops the COMMIT answer of the transaction claiming the call; each attempt has its own database,
 * proxy and host, so the claim's statement is new to every connection (its text is sent only then).
 */
import { expect, test } from 'vitest';
import { statementMark, STATEMENT_NAMES } from '../../host/db/statement-names.ts';
import { waitFor } from '../helpers/ferry.ts';
import { deployProviderConnection } from '../helpers/items-connection.ts';
import { startProxiedFerry } from '../helpers/proxied-ferry.ts';
import { MODE_ACTION } from './mode-action.ts';
import { startItemsProvider } from '../sync/items-provider.ts';

test('an async action whose start committed unseen carries on with the run it wrote: performed once, succeeded, at once', async () => {
  const provider = await startItemsProvider(0);
  const ferry = await startProxiedFerry({ client: Buffer.from(statementMark(STATEMENT_NAMES.actionClaim)) });
  const { db, api, proxy } = ferry;
  try {
    await deployProviderConnection(ferry, { provider: 'unseenact', baseUrl: provider.url, scripts: { 'actions/mode.ts': MODE_ACTION }, connectionId: 'act-unseen' });
    provider.mode = 'committed-unseen';

    proxy.armed = true;
    const queued = await api.post('/actions/mode', { connection_id: 'act-unseen', input: { n: 3 }, async: true });
    expect(queued.status).toBe(202);
    await waitFor("the start's COMMIT answer to be dropped", async () => (proxy.dropped === 1 ? true : undefined));

    // Long enough for the stale-run sweep too: had the start been left to it, the call reads failed.
    const done = await waitFor('the action to settle', async () => {
      const { body } = await api.get(queued.body.status_url);
      return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
    }, 120_000);
    expect(done).toMatchObject({ status: 'succeeded', output: { mode: 'committed-unseen', n: 3 }, error: null });
    expect(await db.sql`select id::text, status from runs where kind = 'action'`).toEqual([{ id: String(done.run_id), status: 'succeeded' }]);
    expect(provider.requests.filter((r) => r.path === '/mode')).toHaveLength(1);
  } finally {
    await ferry.close();
    await provider.close();
  }
}, 180_000);
