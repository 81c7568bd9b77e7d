/**
 * The committed corpus: 30+ scripts in Nango's style (syncs and actions of 17 providers) with
 * fixtures in Nango's format (`<provider>/tests/<name>.test.json`). Each runs through every
 * path a developer and the host take — `ferry compile`'s type-check and bundle, `ferry/testing`,
 * `ferry dryrun`, and `ferry deploy` + a run on a real host (real Postgres) — against one local
 * HTTP server replaying the fixtures, and must save exactly the fixture's records (sets by id) or
 * return exactly its output. `npm run corpus -- <checkout>` runs the same harness on
 * NangoHQ/integration-templates.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createScriptTester, liveProxy } from '../../testing/index.ts';
import { deploySources, startTestFerry, type TestFerry } from '../helpers/ferry.ts';
import { findScriptsWithFixtures } from './harness/cases.ts';
import { pickScripts } from './harness/pick.ts';
import { readNangoFixture } from '../../testing/nango-fixture.ts';
import { startReplayServer } from './harness/replay-server.ts';
import { PATHS, runCorpus, type CaseResult, type CorpusCase } from './harness/run-paths.ts';

const ROOT = join(import.meta.dirname, 'scripts');
const providers = JSON.parse(readFileSync(join(ROOT, 'providers.json'), 'utf8')) as Record<string, Record<string, unknown>>;
const found = await findScriptsWithFixtures(ROOT);
const cases: CorpusCase[] = await Promise.all(
  found.map(async (s) => ({ id: `${s.provider}.${s.name}`, provider: s.provider, name: s.name, kind: s.kind, entryPath: s.file, fixture: await readNangoFixture(s.fixture) })),
);
const results = new Map<string, CaseResult>();

beforeAll(async () => {
  for (const result of await runCorpus({ dir: ROOT, cases, providers })) results.set(result.case.id, result);
}, 420_000);

test('the corpus has at least 30 scripts of at least 10 providers, syncs and actions, each with a fixture', () => {
  expect(cases.length).toBeGreaterThanOrEqual(30);
  expect(new Set(cases.map((c) => c.provider)).size).toBeGreaterThanOrEqual(10);
  expect(cases.filter((c) => c.kind === 'sync').length).toBeGreaterThanOrEqual(15);
  expect(cases.filter((c) => c.kind === 'action').length).toBeGreaterThanOrEqual(10);
  // Every sync's fixture expects records, every action's an output: no case passes by comparing nothing.
  for (const c of cases) {
    if (c.kind === 'sync') expect(Object.values(c.fixture.nango.batchSave ?? {}).flat().length, c.id).toBeGreaterThan(0);
    else expect(c.fixture.output, c.id).toBeDefined();
  }
});

test('scripts of one name under two providers are two cases, and `npm run corpus` picks both', () => {
  const issues = found.filter((s) => s.name === 'issues').map((s) => s.provider);
  expect(issues).toEqual(['github', 'gitlab']);
  expect(cases.map((c) => c.id)).toEqual(expect.arrayContaining(['github.issues', 'gitlab.issues']));
  const picked = pickScripts(found, found.length).filter((s) => s.name === 'issues').map((s) => s.provider);
  expect(picked).toEqual(['github', 'gitlab']);
  // Capped at one script per provider, each provider's first sync is picked: github's issues and gitlab's issues alike.
  const providerCount = new Set(found.map((s) => s.provider)).size;
  const firstRound = pickScripts(found, providerCount);
  expect(new Set(firstRound.map((s) => s.provider)).size).toBe(providerCount);
  expect(firstRound.filter((s) => s.name === 'issues').map((s) => s.provider)).toEqual(['github', 'gitlab']);
});

describe.each(cases.map((c) => c.id))('%s', (id) => {
  test.each([...PATHS])('%s gives the fixture’s records or output', (path) => {
    expect(results.get(id)?.paths[path]).toBeNull();
  });
});

describe('an ActionError from a real script', () => {
  let ferry: TestFerry;
  const tester = createScriptTester();
  afterAll(async () => {
    await tester.close();
    await ferry?.close();
  });

  test('comes back with its type in ferry/testing, and as a 400 from the host', async () => {
    const fixture = await readNangoFixture(join(ROOT, 'slack', 'tests', 'post-message.channel-not-found.json'));
    const server = await startReplayServer();
    server.register('slack-error', fixture);
    try {
      const script = join(ROOT, 'slack', 'actions', 'post-message.ts');
      const run = await tester.run({ script, input: fixture.input, proxy: liveProxy({ baseUrl: server.url, headers: { 'x-ferry-corpus-case': 'slack-error' } }) });
      expect(run.error).toMatchObject({ type: 'channel_not_found', message: 'Slack refused the message: channel_not_found' });

      ferry = await startTestFerry();
      expect((await ferry.api.put('/providers/slack', { base_url: server.url, auth: { type: 'bearer' } })).status).toBe(200);
      expect((await ferry.api.post('/connections', { connection_id: 'slack-error', provider: 'slack', credentials: { type: 'bearer', token: 'slack-error' } })).status).toBe(201);
      await deploySources(ferry, { 'slack/actions/post-message.ts': readFileSync(script, 'utf8') });
      const answer = await ferry.api.post('/actions/post-message', { connection_id: 'slack-error', input: fixture.input });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 'ACTION_ERROR', type: 'channel_not_found' });
    } finally {
      await server.close();
    }
  }, 120_000);
});
