/**
 * A run's start reads (host/db/read-together.ts) go to Postgres as one statement and give back
 * exactly what each read alone gives: the same dates, bigints as strings, jsonb, booleans and
 * defaults, for rows found with every column set, for rows not found, and for reads left out.
 * Against a real host's database (its connection, deployed script, provider, sync state), through
 * a client that notes every statement it sends.
 */
import postgres from '@ferry/postgres';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createConnections } from '../../host/connections/connections.ts';
import { createProviders } from '../../host/connections/providers.ts';
import { createCipher, generateEncryptionKey, parseKeyring } from '../../host/crypto/cipher.ts';
import type { Sql } from '../../host/db/connect.ts';
import { readOne, readTogether, type RowRead } from '../../host/db/read-together.ts';
import { createScripts } from '../../host/deploy/scripts.ts';
import { limitCapsRead } from '../../host/runs/run-limits.ts';
import { createParts } from '../../host/sync/parts.ts';
import { createSyncState } from '../../host/sync/sync-state.ts';
import { startTestFerry, type TestFerry } from '../helpers/ferry.ts';
import { deployProviderConnection, firstRunOf, ITEMS_FULL_SYNC } from '../helpers/items-connection.ts';
import { startItemsProvider, type ItemsProvider } from '../sync/items-provider.ts';

let ferry: TestFerry;
let provider: ItemsProvider;
let sql: Sql;
const sent: string[] = [];
let ids: { connection: string; environment: string };

beforeAll(async () => {
  provider = await startItemsProvider(3);
  ferry = await startTestFerry();
  await deployProviderConnection(ferry, { provider: 'togetherp', baseUrl: provider.url, scripts: { 'syncs/items.ts': ITEMS_FULL_SYNC }, connectionId: 'together-1' });
  expect(await firstRunOf(ferry, 'together-1', 'items')).toMatchObject({ status: 'succeeded' });
  sql = postgres(ferry.db.url, { max: 2, onnotice: () => {}, debug: (_connection: number, query: string) => { sent.push(query); } }) as unknown as Sql;
  const [row] = await sql<{ id: string; environment_id: string }[]>`select id, environment_id from connections where connection_id = 'together-1'`;
  ids = { connection: row!.id, environment: row!.environment_id };
  // Every column a run reads set, so a date or bigint read back differently would show.
  await sql`
    update sync_state set last_sync_date = now() - interval '1 hour', checkpoint = '{"page": 2, "at": "2026-01-01T00:00:00Z"}',
      pass_started_at = now(), pass_since = now() - interval '2 days', schedule_override = '5m', cron = '*/5 * * * *', cron_tz = 'UTC'
    where connection_id = ${ids.connection}`;
  await sql`insert into environment_settings (environment_id, max_concurrent_runs) values (${ids.environment}, 3) on conflict (environment_id) do update set max_concurrent_runs = 3`;
  await sql`update environment_settings set max_memory_mb = 256, max_wall_time_ms = 60000, max_cpu_time_ms = 30000 where environment_id = ${ids.environment}`;
  await sql`insert into paused_connections (connection_id) values (${ids.connection})`;
  await sql`
    insert into sync_parts (connection_id, sync_name, variant, part, window_from, window_to, status, checkpoint, retry_attempt, next_run_at, run_id)
    values (${ids.connection}, 'items', 'base', '2026-01-01T00:00:00.000Z', '2026-01-01', '2026-02-01', 'failed', '{"cursor": "c1"}', 2, now(), 9007199254740993)`;
}, 120_000);
afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await ferry?.close();
  await provider?.close();
});

function modules() {
  // The reads here never open credentials: any key will do.
  const cipher = createCipher(parseKeyring(generateEncryptionKey()));
  return {
    connections: createConnections(sql, cipher), scripts: createScripts(sql), providers: createProviders(sql),
    syncState: createSyncState(sql), parts: createParts(sql),
  };
}

/** Every read a sync run's start makes, for one connection; a fresh set per call (a read runs once). */
function runReads(connectionId: string, environmentId: string, providerName: string, syncName: string): Array<RowRead<unknown>> {
  const m = modules();
  const pair = { connectionId, syncName, variant: 'base' };
  return [
    m.connections.byIdRead(connectionId),
    m.scripts.activeRead(environmentId, providerName, syncName),
    m.syncState.stateRead(connectionId, syncName),
    m.providers.providerRead(environmentId, providerName),
    m.parts.partRead({ ...pair, part: '2026-01-01T00:00:00.000Z' }),
    limitCapsRead(sql, environmentId),
    m.syncState.connectionPausedRead(connectionId),
    m.parts.anyRead(pair),
  ];
}

test('the reads together are one statement and give what each gives alone, for rows with every column set', async () => {
  const alone: unknown[] = [];
  for (const read of runReads(ids.connection, ids.environment, 'togetherp', 'items')) alone.push(await readOne(read));
  sent.length = 0;
  const together = await readTogether(sql, runReads(ids.connection, ids.environment, 'togetherp', 'items'));
  expect(sent).toHaveLength(1);
  expect(together).toEqual(alone);
  // What the rows hold, so the comparison above compared something.
  const [connection, script, state, providerRow, part, caps, paused, anyPart] = together as [any, any, any, any, any, any, any, any];
  expect(connection).toMatchObject({ id: ids.connection, environment_id: ids.environment, connection_id: 'together-1', provider: 'togetherp' });
  expect(connection.created_at).toBeInstanceOf(Date);
  expect(script).toMatchObject({ name: 'items', provider: 'togetherp', kind: 'sync', version: 1, manifest: { type: 'sync' } });
  expect(script.code.length).toBeGreaterThan(100);
  expect(state).toMatchObject({ connection_id: ids.connection, checkpoint: { page: 2, at: '2026-01-01T00:00:00Z' }, cron: '*/5 * * * *' });
  expect(typeof state.frequency_ms).toBe('string');
  for (const date of ['next_run_at', 'last_sync_date', 'pass_started_at', 'pass_since']) expect(state[date]).toBeInstanceOf(Date);
  expect(providerRow).toMatchObject({ name: 'togetherp', base_url: provider.url, auth: { type: 'none' } });
  // A bigint past 2^53 stays exact: no JSON number in between.
  expect(part).toMatchObject({ status: 'failed', retry_attempt: 2, checkpoint: { cursor: 'c1' }, run_id: '9007199254740993' });
  expect(part.window_from).toEqual(new Date('2026-01-01T00:00:00Z'));
  expect(caps).toEqual({ memoryMb: 256, wallTimeMs: 60000, cpuTimeMs: 30000 });
  expect([paused, anyPart]).toEqual([true, true]);
});

test('rows not found read as each read alone says (null, defaults, built-ins, false), and reads left out as undefined', async () => {
  const missing = ['999999999', '999999998', 'github', 'nosuchsync'] as const;
  const alone: unknown[] = [];
  for (const read of runReads(...missing)) alone.push(await readOne(read));
  const reads = runReads(...missing);
  const together = await readTogether(sql, reads);
  expect(together).toEqual(alone);
  const [connection, script, state, builtin, part, caps, paused, anyPart] = together;
  expect([connection, script, state, part, paused, anyPart]).toEqual([null, null, null, null, false, false]);
  expect(builtin).toMatchObject({ name: 'github' });
  expect(caps).toEqual({ memoryMb: 1024, wallTimeMs: 3600_000, cpuTimeMs: 3600_000 });

  const [withoutConnection, , partLeftOut, capsOnly] = await readTogether(sql, [undefined, runReads(...missing)[1], undefined, limitCapsRead(sql, ids.environment)] as const);
  expect([withoutConnection, partLeftOut]).toEqual([undefined, undefined]);
  expect(capsOnly).toEqual({ memoryMb: 256, wallTimeMs: 60000, cpuTimeMs: 30000 });
});
