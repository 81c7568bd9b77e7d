/**
 * What `npm start` does on a fresh clone: no DATABASE_URL, so Ferry runs on embedded PGlite,
 * starts the demo provider, deploys the example scripts and syncs the demo connection.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { REPO, spawnNode, tempDir } from '../helpers/cli-process.ts';
import { createApiClient, readAll, waitFor, waitForRun } from '../helpers/ferry.ts';

test('npm start runs the demo sync on embedded PGlite and shuts down cleanly', async () => {
  const dataDir = await tempDir('ferry-embedded-');
  const env: NodeJS.ProcessEnv = { ...process.env, FERRY_DATA_DIR: dataDir, FERRY_PORT: '0' };
  delete env.DATABASE_URL;
  // The default a newcomer gets: no FERRY_LOG_LEVEL, so the demo's quiet output is what is checked.
  delete env.FERRY_LOG_LEVEL;
  delete env.FERRY_SECRET_KEY;
  // Exactly what `npm start` runs (package.json), on this Node.
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [bin, ...args] = pkg.scripts.start.split(/\s+/);
  expect(bin).toBe('node');
  const ferry = spawnNode(args, { cwd: REPO, env });
  const stdout = () => ferry.stdout();

  const url = await ferry.waitFor('the start-up banner', () => /Ferry is running at (http:\/\/\S+)/.exec(stdout())?.[1], 90_000);
  expect(stdout()).toMatch(/embedded PGlite/);
  // The seconds before the banner (migrations, a first database) are announced, not silent.
  expect(ferry.stderr()).toContain(`Starting Ferry on an embedded PGlite in ${dataDir}: migrations, then the API…`);
  const key = /Secret key: (\S+)/.exec(stdout())![1]!;
  const api = createApiClient(url, key);

  const run = await waitForRun(api, 'demo-connection', 'contacts', '0', 90_000);
  expect(run.status).toBe('succeeded');
  expect(run.counts.added).toBe(500);
  const { records } = await readAll(api, 'demo-connection', 'Contact', null, 1000);
  expect(records).toHaveLength(500);
  // The terminal gets one readable line per finished run, not the host's JSON logs.
  await waitFor('the run line', async () => stdout().includes(`✓ sync contacts on demo-connection (run ${run.id}) succeeded: 500 added`) || undefined, 30_000);
  expect(stdout().split('\n').filter((line) => line.startsWith('{'))).toEqual([]);

  // The banner names the dashboard; signed in with the printed key, its overview lists the demo.
  const dashboard = /Dashboard: (http:\/\/\S+)/.exec(stdout())?.[1];
  expect(dashboard).toBe(`${url}/dashboard`);
  const signIn = await fetch(`${dashboard}/sign-in`, { method: 'POST', redirect: 'manual', headers: { origin: url }, body: new URLSearchParams({ key }) });
  expect(signIn.status).toBe(303);
  const cookie = signIn.headers.getSetCookie().find((c) => c.startsWith('ferry_dashboard='))!.split(';')[0]!;
  const overview = await fetch(dashboard!, { headers: { cookie } });
  expect(overview.status).toBe(200);
  expect(await overview.text()).toMatch(/demo-connection[\s\S]*contacts/);

  // The hosted connect page, as README's tour does it: the form names the demo's token, a wrong
  // one is refused by the provider's check, the right one makes a connection.
  const session = await api.post('/connect/sessions', { end_user: { id: 'newcomer' }, allowed_providers: ['demo'] });
  expect(session.status).toBe(201);
  const page = await fetch(session.body.connect_url.replace('/connect?', '/connect/providers/demo?'));
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('API token (for the demo: demo-provider-secret)');
  const connect = (token: string) => fetch(`${url}/connect/providers/demo`, {
    method: 'POST', headers: { authorization: `Bearer ${session.body.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ token }),
  });
  const refused = await connect('not-the-token');
  expect(refused.status).toBe(422);
  expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('INVALID_CREDENTIALS');
  const made = await connect('demo-provider-secret');
  expect(made.status).toBe(201);
  const { connection_id: connected } = await made.json() as { connection_id: string };
  expect((await api.get(`/connections/${connected}`)).body).toMatchObject({ provider: 'demo', end_user: { id: 'newcomer' } });

  expect(await ferry.stop('SIGTERM')).toBe(0);
}, 180_000);
