/**
 * A queued run must not vanish when the database is lost before it starts. The test holds,
 * uncommitted, a running run row of the pair, so the host's insert of the run row waits on it,
 * and terminates that waiting backend (pg_terminate_backend, on this file's own database only)
 * every time it shows up, until the start path's retries are used up. The job had no run row: it
 * used to be completed anyway ("job failed in the host"), so a 202'd manual trigger never ran and
 * a scheduled run waited a whole period and a split part stayed 'queued', its pass never done
 * (all three tests fail that way without the fix). Now the job is
 * queued again (host/queue/queue.ts requeueUnstarted) and, once the row is rolled back, runs
 * exactly once with every record.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { STATEMENT_NAMES } from '../../host/db/statement-names.ts';
import { SYNC_QUEUE } from '../../host/queue/queue.ts';
import { deploySources, idForThisAttempt, readAll, startTestFerry, waitFor, waitForRun, type TestFerry } from '../helpers/ferry.ts';
import { deployProviderConnection, firstRunOf, ITEMS_FULL_SYNC } from '../helpers/items-connection.ts';
import {
  controlConnection, newestRunId, pastTheRequeueDelay, pendingJobs, settledJobState, terminateLockWaitersUntil, whileHolding, type Control,
} from '../helpers/lost-database.ts';
import { startItemsProvider, type ItemsProvider } from './items-provider.ts';
import { KEY_SPLIT_SYNC, startRepos } from './repos-provider.ts';

let ferry: TestFerry;
let provider: ItemsProvider;
let control: Control;

beforeAll(async () => {
  provider = await startItemsProvider(20);
  ferry = await startTestFerry({});
  control = controlConnection(ferry, 'lostjob-test');
  await deployProviderConnection(ferry, { provider: 'lostp', baseUrl: provider.url, scripts: { 'syncs/items.ts': ITEMS_FULL_SYNC }, connectionId: 'lost-1' });
  // The connection's first run, so the next one can only come from the trigger (hourly schedule).
  expect(await firstRunOf(ferry, 'lost-1', 'items')).toMatchObject({ status: 'succeeded', counts: { added: 20 } });
}, 120_000);
afterAll(async () => {
  await control?.end({ timeout: 5 });
  await ferry?.close();
  await provider?.close();
});

/** The run rows of `held`'s pair or part after run `afterRunId`. */
const heldRuns = (held: Held, afterRunId: string) => control<{ id: string; status: string }[]>`
  select r.id::text as id, r.status from runs r join connections c on c.id = r.connection_id
  where c.connection_id = ${held.connection} and r.script_name = ${held.sync} and r.part is not distinct from ${held.part ?? null}
    and r.id > ${afterRunId}`;

/**
 * Holds, uncommitted, a running run row of `held` (a pair, or one part of its split pass), so the
 * host's insert of its run row (ON CONFLICT on runs_one_running) waits for this transaction, while
 * `queue` makes a job; and
 * terminates the host's backend each time it waits there, until that job is no longer active: the
 * start path gave up (4 attempts, 0.1, 0.5, 1.5 s apart) and settled it. The row is rolled back,
 * also when the attempt fails (its CI retry must not find it).
 */
interface Held { connection: string; sync: string; part?: string }
async function startLosesDatabase(held: Held, queue: () => Promise<void>, findJob: () => Promise<string | undefined>): Promise<number> {
  const before = await newestRunId(control);
  return whileHolding(control, (hold) => hold`
      insert into runs (connection_id, script_name, variant, part, kind, script_version, status, trigger)
      select id, ${held.sync}, 'base', ${held.part ?? null}, 'sync', 1, 'running', 'manual' from connections where connection_id = ${held.connection}`,
  async () => {
    await queue();
    const jobId = await waitFor('the job queued', findJob, 30_000);
    const { kills } = await terminateLockWaitersUntil(control, [STATEMENT_NAMES.runStart], 'the claimed job settled after its start lost the database',
      () => settledJobState(control, jobId), 30_000);
    // Nothing of the run was written.
    expect(await heldRuns(held, before)).toHaveLength(0);
    return kills;
  });
}

/** New item names on each attempt: a CI retry's run must find every item changed, as the first did. */
let attempt = 0;
function renameEveryItem(prefix: string): string {
  const renamed = `${prefix} (attempt ${++attempt}) `;
  for (const id of provider.items.keys()) provider.put(id, `${renamed}${id}`);
  return renamed;
}

/** Exactly once: no second run after the requeue delay, and no sync job left queued or active. */
async function expectOneRunSince(afterRunId: string) {
  await pastTheRequeueDelay();
  expect(await control`select 1 from runs where id > ${afterRunId}`).toHaveLength(1);
  expect(await pendingJobs(control, SYNC_QUEUE)).toHaveLength(0);
}

test('a manual trigger whose run-row insert loses its backend every time is queued again and runs exactly once', async () => {
  const before = await newestRunId(control);
  const renamed = renameEveryItem('renamed');
  const kills = await startLosesDatabase(
    { connection: 'lost-1', sync: 'items' },
    async () => { expect((await ferry.api.post('/syncs/items/trigger', { connection_id: 'lost-1' })).status).toBe(202); },
    // Only a job of this attempt: a CI retry must not pick the first attempt's settled one.
    async () => (await control<{ id: string }[]>`
      select id::text as id from pgboss.job where name = ${SYNC_QUEUE} and data->>'trigger' = 'manual' and state in ('created', 'active')`)[0]?.id,
  );
  expect(kills).toBeGreaterThanOrEqual(4);

  // The job came back and runs once, with every record.
  const run = await waitForRun(ferry.api, 'lost-1', 'items', before, 30_000);
  expect(run).toMatchObject({ status: 'succeeded', trigger: 'manual', counts: { updated: 20 } });
  const { records } = await readAll(ferry.api, 'lost-1', 'Item');
  expect(records.filter((r: { name: string }) => r.name.startsWith(renamed))).toHaveLength(20);
  await expectOneRunSince(before);
}, 90_000);

test('a scheduled run of a pair whose start loses the database runs once, not a period later', async () => {
  const before = await newestRunId(control);
  const renamed = renameEveryItem('again');
  const kills = await startLosesDatabase(
    { connection: 'lost-1', sync: 'items' },
    async () => { await control`update sync_state s set next_run_at = now() from connections c where c.id = s.connection_id and c.connection_id = 'lost-1'`; },
    async () => (await control<{ id: string }[]>`
      select id::text as id from pgboss.job where name = ${SYNC_QUEUE} and data->>'trigger' = 'schedule' and state in ('created', 'active')`)[0]?.id,
  );
  expect(kills).toBeGreaterThanOrEqual(4);
  const run = await waitForRun(ferry.api, 'lost-1', 'items', before, 30_000);
  expect(run).toMatchObject({ status: 'succeeded', trigger: 'schedule', counts: { updated: 20 } });
  const { records } = await readAll(ferry.api, 'lost-1', 'Item');
  expect(records.filter((r: { name: string }) => r.name.startsWith(renamed))).toHaveLength(20);
  await expectOneRunSince(before);
}, 90_000);

test('a part of a split pass whose start loses the database runs once, and the pass completes with every record', async () => {
  // Deploying the split sync is what starts its first pass, so each attempt (CI retries a failed
  // one) needs a provider whose scripts are not deployed yet, and its own connection.
  const providerName = idForThisAttempt('reposp');
  const connection = idForThisAttempt('lost-3');
  const repos = await startRepos(3, 4, 0);
  try {
    expect((await ferry.api.put(`/providers/${providerName}`, { base_url: repos.url, auth: { type: 'none' } })).status).toBe(200);
    expect((await ferry.api.post('/connections', { connection_id: connection, provider: providerName })).status).toBe(201);
    const before = await newestRunId(control);
    const held = { connection, sync: 'issues', part: 'org/repo-1' };
    // Deploying enables the sync for the connection: its first pass splits into one part per repo.
    const kills = await startLosesDatabase(
      held,
      async () => { await deploySources(ferry, { [`${providerName}/syncs/issues.ts`]: KEY_SPLIT_SYNC }); },
      async () => (await control<{ id: string }[]>`
        select id::text as id from pgboss.job where name = ${SYNC_QUEUE} and data->>'part' = ${held.part} and state in ('created', 'active')`)[0]?.id,
    );
    expect(kills).toBeGreaterThanOrEqual(4);
    const status = await waitFor('the split pass to succeed', async () => {
      const s = (await ferry.api.get(`/syncs/issues/status?connection_id=${connection}`)).body;
      return s.last_sync_date !== null && s.split_pass === null ? s : undefined;
    }, 60_000);
    expect(status.last_sync_date).not.toBeNull();
    const { records } = await readAll(ferry.api, connection, 'Issue');
    expect(records.map((r: { id: string }) => r.id).sort()).toEqual([...repos.repos.values()].flat().sort());
    await pastTheRequeueDelay();
    // Every part ran exactly once, the one that lost its start too.
    for (const part of repos.repos.keys()) {
      expect((await heldRuns({ ...held, part }, before)).map((r) => r.status)).toEqual(['succeeded']);
    }
    expect(await pendingJobs(control, SYNC_QUEUE)).toHaveLength(0);
  } finally {
    await repos.close();
  }
}, 120_000);
