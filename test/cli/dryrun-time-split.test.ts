/**
 * `ferry dryrun` of a time-split sync runs its full pass as the host does: the windows planned
 * from now by the host's own planWindows (half-years from 2024-01-01, the last open-ended), each
 * run in turn with `nango.partition` = { key: window start, from, to }, all into one collection,
 * nothing written on the host. `part` (`--part <window start>`) runs the window holding that
 * instant only; a bad one is refused naming what was wrong; a failing window stops the pass
 * naming its part. Against a real host (real Postgres) and a real provider server on 127.0.0.1.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DryRunError, dryRun } from '../../cli/dryrun.ts';
import { createLogger } from '../../host/logger.ts';
import { planWindows } from '../../host/sync/parts.ts';
import { createRuntime, type Runtime } from '../../runtime/index.ts';
import { startTestFerry, TEST_SECRET_KEY, type TestFerry } from '../helpers/ferry.ts';
import { SPLIT_SYNC, startEvents, type EventsProvider } from '../sync/split-provider.ts';

const SPLIT = { by: 'time' as const, from: '2024-01-01T00:00:00Z', every: '180 days' };
let ferry: TestFerry;
let provider: EventsProvider;
let runtime: Runtime;
let dir: string;
const logger = createLogger({ level: 'silent' });

beforeAll(async () => {
  provider = await startEvents(30, 0);
  ferry = await startTestFerry();
  runtime = createRuntime({ workers: 1, logger });
  expect((await ferry.api.put('/providers/eventsp', { base_url: provider.url, auth: { type: 'none' } })).status).toBe(200);
  expect((await ferry.api.post('/connections', { connection_id: 'events-dry', provider: 'eventsp' })).status).toBe(201);
  dir = await mkdtemp(join(tmpdir(), 'ferry-dryrun-time-'));
  await mkdir(join(dir, 'eventsp/syncs'), { recursive: true });
  await writeFile(join(dir, 'eventsp/syncs/events.ts'), SPLIT_SYNC);
  await writeFile(join(dir, 'eventsp/syncs/unsplit.ts'), SPLIT_SYNC.replace(/\n\s*split: \{[^}]*\},/, ''));
}, 120_000);
afterAll(async () => {
  await runtime?.close();
  await ferry?.close();
  await provider?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const dry = (extra: { part?: string; name?: string } = {}) => dryRun({ name: 'events', connectionId: 'events-dry', dir, url: ferry.url, key: TEST_SECRET_KEY, logger, runtime, ...extra });
const idsOf = (run: Awaited<ReturnType<typeof dry>>) => [...(run.models.get('Event')?.records.keys() ?? [])].sort();
/** The events a window [from, to) holds, as the provider dates them. */
const eventsIn = (from: Date, to: Date | null) => [...provider.events].filter(([, at]) => at >= from.getTime() && (to === null || at < to.getTime())).map(([id]) => id).sort();

describe('ferry dryrun of a time-split sync', () => {
  test("a full pass runs every window the host would plan, in turn, each reading only its window; the host keeps nothing", async () => {
    provider.requests.length = 0;
    const run = await dry();
    expect(run.result.ok ? null : run.result.error).toBeNull();
    const planned = planWindows(SPLIT, new Date());
    expect(planned.length).toBeGreaterThan(2);
    expect(run.partitions).toEqual({ keys: planned.map((w) => w.part), ran: planned.map((w) => w.part) });
    expect(run.windows).toEqual(planned.map((w) => ({ part: w.part, from: w.from!.toISOString(), to: w.to?.toISOString() ?? null })));
    expect(run.windows!.at(-1)!.to).toBeNull();
    expect(idsOf(run)).toEqual([...provider.events.keys()].sort());
    // Window after window: the first request of each names its start, in order.
    const starts = [...new Set(provider.requests.map((r) => r.from))];
    expect(starts).toEqual(planned.map((w) => w.part));
    const [records] = await ferry.db.sql<{ n: number }[]>`select count(*)::int as n from records`;
    expect(records!.n).toBe(0);
  });

  test('part runs the window starting there, or the one holding that instant, and nothing else', async () => {
    const planned = planWindows(SPLIT, new Date());
    const second = planned[1]!;
    for (const part of [second.part, new Date(second.from!.getTime() + 40 * 86_400_000).toISOString()]) {
      provider.requests.length = 0;
      const run = await dry({ part });
      expect(run.result.ok).toBe(true);
      expect(run.partitions).toEqual({ keys: null, ran: [second.part] });
      expect(run.windows).toEqual([{ part: second.part, from: second.from!.toISOString(), to: second.to!.toISOString() }]);
      expect(idsOf(run)).toEqual(eventsIn(second.from!, second.to));
      expect(idsOf(run).length).toBeGreaterThan(0);
      expect(new Set(provider.requests.map((r) => r.from))).toEqual(new Set([second.part]));
    }
  });

  test('a part that is not a date, or before the first window, or on an unsplit sync, is refused naming why', async () => {
    await expect(dry({ part: 'org/repo-1' })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/--part "org\/repo-1": a time split's part is its window's start, an ISO date \(2024-01-01T00:00:00\.000Z/) });
    await expect(dry({ part: '2023-06-01T00:00:00Z' })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('before the split\'s first window, which starts 2024-01-01T00:00:00.000Z') });
    const unsplit = await dry({ name: 'unsplit', part: '2024-01-01T00:00:00Z' }).catch((e: unknown) => e);
    expect(unsplit).toBeInstanceOf(DryRunError);
    expect((unsplit as DryRunError).message).toMatch(/does not split/);
  });

  test('a failing window stops the pass naming its part; the windows before it keep their records', async () => {
    const planned = planWindows(SPLIT, new Date());
    provider.failFrom = planned[2]!.part;
    try {
      const run = await dry();
      expect(run.result.ok).toBe(false);
      expect(run.partitions?.ran).toEqual(planned.slice(0, 3).map((w) => w.part));
      expect(!run.result.ok && run.result.error.message).toMatch(new RegExp(`^part "${planned[2]!.part.replace(/\./g, '\\.')}": .*400`));
      expect(idsOf(run)).toEqual([...eventsIn(planned[0]!.from!, planned[0]!.to), ...eventsIn(planned[1]!.from!, planned[1]!.to)].sort());
    } finally {
      provider.failFrom = null;
    }
  });
});

test('the binary prints the windows and runs one with --part', async () => {
  const cli = (args: string[]) =>
    promisify(execFile)(process.execPath, [resolve(import.meta.dirname, '../../cli/bin.ts'), 'dryrun', 'events', '--connection', 'events-dry', '--dir', dir, ...args, '--url', ferry.url, '--key', TEST_SECRET_KEY]).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );
  const planned = planWindows(SPLIT, new Date());
  const all = await cli([]);
  expect(all.code).toBe(0);
  expect(all.stdout).toContain(`Split by time: ${planned.length} window(s) ([2024-01-01T00:00:00.000Z, ${planned[0]!.to!.toISOString()})`);
  expect(all.stdout).toContain(`ran ${planned.length} in turn`);
  expect(all.stdout).toMatch(/Event: 30 record\(s\)/);
  const one = await cli(['--part', planned[0]!.part, '--json']);
  expect(one.code).toBe(0);
  const parsed = JSON.parse(one.stdout) as { partitions: unknown; windows: unknown; models: { Event: { count: number } } };
  expect(parsed.partitions).toEqual({ keys: null, ran: [planned[0]!.part] });
  expect(parsed.models.Event.count).toBe(eventsIn(planned[0]!.from!, planned[0]!.to).length);
});
