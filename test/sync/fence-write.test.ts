import { afterAll, beforeAll, expect, test } from 'vitest';
import { createEnvironments } from '../../host/tenancy/environments.ts';
import { fencedWrite } from '../../host/runs/run-fence.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;
let connectionId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  const env = await createEnvironments(db.sql).ensure('fence');
  const [row] = await db.sql<{ id: string }[]>`
    insert into connections (environment_id, connection_id, provider, credentials) values (${env.id}, 'c', 'p', '{}'::jsonb) returning id::text`;
  connectionId = row!.id;
});
afterAll(async () => { await db?.drop(); });

let syncs = 0;
/** A run of a sync of its own (one running run per sync and connection). */
async function run(status: 'running' | 'failed'): Promise<string> {
  const [row] = await db.sql<{ id: string }[]>`
    insert into runs (connection_id, script_name, kind, script_version, status, trigger) values (${connectionId}, ${`sync-${syncs++}`}, 'sync', 1, ${status}, 'test') returning id::text`;
  return row!.id;
}

const writeProbe = (runId: string) => (tx: Parameters<Parameters<typeof fencedWrite>[2]>[0]) =>
  tx`insert into records (connection_id, model, id, data, hash) values (${connectionId}, 'Probe', ${runId}, '{}', 'h') returning id`;

const probes = async (runId: string) => (await db.sql`select 1 from records where model = 'Probe' and id = ${runId}`).length;

test('a live run commits what its fenced write did, and its claim refreshed the heartbeat', async () => {
  const runId = await run('running');
  await db.sql`update runs set heartbeat_at = now() - interval '1 hour' where id = ${runId}`;
  const rows = await fencedWrite(db.sql, runId, writeProbe(runId));
  expect(rows).toHaveLength(1);
  expect(await probes(runId)).toBe(1);
  const [beat] = await db.sql<{ fresh: boolean }[]>`select heartbeat_at > now() - interval '1 minute' as fresh from runs where id = ${runId}`;
  expect(beat!.fresh).toBe(true);
});

test('a settled run: the statements pipelined behind the claim are rolled back and the write fails RUN_FENCED', async () => {
  const runId = await run('failed');
  await expect(fencedWrite(db.sql, runId, writeProbe(runId))).rejects.toMatchObject({ code: 'RUN_FENCED' });
  expect(await probes(runId)).toBe(0);
});

test('a settled run whose write also failed reports RUN_FENCED, not the write error', async () => {
  const runId = await run('failed');
  const failing = fencedWrite(db.sql, runId, async (tx) => {
    await writeProbe(runId)(tx);
    await tx`select 1/0`;
  });
  await expect(failing).rejects.toMatchObject({ code: 'RUN_FENCED' });
  expect(await probes(runId)).toBe(0);
  // The connection the transaction used is fine for the next one.
  const live = await run('running');
  await fencedWrite(db.sql, live, writeProbe(live));
  expect(await probes(live)).toBe(1);
});
