/**
 * `ferry dryrun --save` records what the provider answered, and the `ferry/testing` harness
 * replays it: the same script run offline saves exactly the same records. `--checkpoint` and
 * `--input @file` start a run where the user says.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDemoProvider, type DemoProvider } from '../../demo/index.ts';
import { ProxyRequestSchema } from '../../runtime/index.ts';
import { createScriptTester, liveProxy, readFixture } from '../../testing/index.ts';
import { startFakeHost, type FakeHost } from './fake-host.ts';

const REPO = resolve(import.meta.dirname, '../..');
const KEY = 'sk_test_save';
let provider: DemoProvider;
let host: FakeHost;
let tmp: string;
const tester = createScriptTester();

beforeAll(async () => {
  provider = await startDemoProvider({ apiKey: 'pk', contacts: 3, tickets: 75, seed: 9 });
  tmp = await mkdtemp(join(tmpdir(), 'ferry-save-'));
  const bases: Record<string, string> = { 'conn-helpdesk': provider.baseUrls.helpdesk, 'conn-chat': provider.baseUrls.chat };
  host = await startFakeHost(async (req) => {
    const url = new URL(req.path, 'http://host');
    const [, , id, proxy] = url.pathname.split('/');
    const base = id ? bases[id] : undefined;
    if (!base) return { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such connection' } } };
    if (req.method === 'GET' && !proxy) return { status: 200, body: { connection_id: id, provider: 'helpdesk', connection_config: {}, metadata: null } };
    if (proxy === 'proxy') return { status: 200, body: await liveProxy({ baseUrl: base, headers: { authorization: 'Bearer pk' } })(ProxyRequestSchema.parse(req.body)) };
    return { status: 404, body: { error: { code: 'NOT_FOUND', message: 'never run' } } };
  });
});
afterAll(async () => {
  await tester.close();
  await host.close();
  await provider.close();
  await rm(tmp, { recursive: true, force: true });
});

const cli = (...args: string[]) =>
  promisify(execFile)(process.execPath, [join(REPO, 'cli/bin.ts'), 'dryrun', ...args, '--url', host.url, '--key', KEY, '--json'], { cwd: REPO }).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );

it('records a sync run and the harness replays it offline to the same records', async () => {
  const fixturePath = join(tmp, 'tickets.json');
  const live = await cli('tickets', '--connection', 'conn-helpdesk', '--save-to', fixturePath);
  expect(live.code).toBe(0);
  const printed = JSON.parse(live.stdout);
  expect(printed.fixturePath).toBe(fixturePath);

  const fixture = await readFixture(fixturePath);
  expect(fixture).toMatchObject({ script: 'tickets', kind: 'sync', context: { lastSyncDate: null, checkpoint: null } });
  expect(fixture.exchanges).toHaveLength(2);
  expect(JSON.stringify(fixture)).not.toContain('Bearer pk');

  await provider.close(); // offline from here on
  const replayed = await tester.run({ script: join(REPO, 'scripts/helpdesk/syncs/tickets.ts'), fixture });
  expect(replayed.error).toBeUndefined();
  expect(replayed.records('Ticket')).toEqual(printed.models.Ticket.records);
  provider = await startDemoProvider({ apiKey: 'pk', contacts: 3, tickets: 75, seed: 9, port: Number(new URL(provider.url).port) });
});

it('--checkpoint resumes where it says, and --input reads an action input from @file', async () => {
  const first = JSON.parse((await cli('tickets', '--connection', 'conn-helpdesk')).stdout);
  const checkpoint = first.stateWrites.find((w: { kind: string }) => w.kind === 'checkpoint').value;
  const resumed = JSON.parse((await cli('tickets', '--connection', 'conn-helpdesk', '--checkpoint', JSON.stringify(checkpoint))).stdout);
  expect(resumed.models.Ticket.count).toBe(25);

  const inputFile = join(tmp, 'input.json');
  await writeFile(inputFile, JSON.stringify({ channel: 'general', text: 'from a file' }));
  const posted = await cli('post-message', '--connection', 'conn-chat', '--input', `@${inputFile}`);
  expect(posted.code).toBe(0);
  expect(JSON.parse(posted.stdout).output).toMatchObject({ channel: 'C0GENERAL', text: 'from a file' });
  expect((await cli('post-message', '--connection', 'conn-chat', '--input', '@/nonexistent.json')).code).toBe(2);
  expect((await cli('tickets', '--connection', 'conn-helpdesk', '--checkpoint', '[1]')).code).toBe(2);
});
