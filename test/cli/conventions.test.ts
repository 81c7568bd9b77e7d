/**
 * CLI conventions, through the real binary: --version, help on stdout, "did you mean" for a
 * mistyped command, a taken port as a clear message and exit 7, one `ferry dev` per data folder
 * (the second exits 7), other commands finding the dev host's URL and key on their own, and a
 * refused key that says which key to use.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/ferry.ts';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'cli/bin.ts');
let tmp: string | undefined;
let dev: ChildProcess | undefined;
let blocker: Server | undefined;
let db: TestDatabase | undefined;

afterAll(async () => {
  if (dev && dev.exitCode === null) {
    dev.kill('SIGTERM');
    await new Promise((done) => dev!.once('exit', done));
  }
  await new Promise((done) => (blocker ? blocker.close(done) : done(undefined)));
  await db?.drop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FERRY_LOG_LEVEL: 'warn', ...extra };
  for (const name of ['FERRY_URL', 'FERRY_SECRET_KEY', 'DATABASE_URL']) if (!(name in extra)) delete env[name];
  return env;
}

function ferry(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return promisify(execFile)(process.execPath, [BIN, ...args], { cwd: options.cwd ?? REPO, env: options.env ?? cleanEnv() }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

test('--version, help on stdout, and "did you mean" for a mistyped command', async () => {
  const { version } = JSON.parse(await readFile(join(REPO, 'cli/package.json'), 'utf8')) as { version: string };
  const shown = await ferry(['--version']);
  expect(shown).toMatchObject({ code: 0, stdout: `${version}\n` });

  const help = await ferry(['--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^Usage: ferry <command>/);
  expect(help.stdout).toMatch(/^ {2}providers +/m);
  expect(help.stderr).toBe('');
  const commandHelp = await ferry(['runs', '--help']);
  expect(commandHelp.stdout).toMatch(/^Usage: ferry runs/);

  const typo = await ferry(['deplyo']);
  expect(typo.code).toBe(2);
  expect(typo.stderr).toContain('unknown command "deplyo": did you mean "ferry deploy"?');
  const far = await ferry(['xyzzy']);
  expect(far.code).toBe(2);
  expect(far.stderr).not.toContain('did you mean');
});

test('an unreachable host is exit 4 with what to do', async () => {
  const closed = createServer();
  await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
  const port = (closed.address() as { port: number }).port;
  await new Promise((done) => closed.close(done));
  const cwd = await mkdtemp(join(tmpdir(), 'ferry-unreachable-'));
  try {
    const result = await ferry(['runs', '--connection', 'c1', '--url', `http://127.0.0.1:${port}`], { cwd });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(`cannot reach the host at http://127.0.0.1:${port}: ECONNREFUSED`);
    expect(result.stderr).toContain('`npx ferry dev`');
    expect(result.stderr).toContain('FERRY_URL');
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('a taken port is a clear message and exit 7; one ferry dev per data folder; commands find the dev host and its key', async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ferry-conventions-'));
  blocker = createServer();
  await new Promise<void>((done) => blocker!.listen(0, '127.0.0.1', done));
  const takenPort = (blocker.address() as { port: number }).port;
  db = await createTestDatabase('ferry_conventions');
  const taken = await ferry(['start'], { cwd: tmp, env: cleanEnv({ DATABASE_URL: db.url, FERRY_PORT: String(takenPort), FERRY_SECRET_KEY: 'fsk_conventions_key_0123456789' }) });
  expect(taken.code).toBe(7);
  expect(taken.stderr).toContain(`port ${takenPort} on 127.0.0.1 is already in use`);
  expect(taken.stderr).not.toMatch(/EADDRINUSE|at .*\.ts:\d+/);
  expect(taken.stderr).toContain('FERRY_PORT');

  const data = join(tmp, '.ferry');
  dev = spawn(process.execPath, [BIN, 'dev', '--dir', join(REPO, 'scripts/chat'), '--port', '0', '--json'], { cwd: tmp, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  dev.stdout!.on('data', (d) => (stdout += d));
  dev.stderr!.on('data', (d) => (stderr += d));
  const ready = await waitFor('the ready event', async () => {
    if (dev!.exitCode !== null) throw new Error(`ferry dev exited with ${dev!.exitCode}: ${stderr}`);
    return stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string; url: string; key: string }).find((e) => e.event === 'ready');
  }, 120_000);

  const second = await ferry(['dev', '--port', '0', '--data-dir', data], { cwd: tmp });
  expect(second.code).toBe(7);
  expect(second.stderr).toContain(`another ferry dev (pid ${dev.pid}) is using ${data}`);

  // No --url, --key or FERRY_* variables: the command finds the dev host of this folder.
  const listed = await ferry(['connections', 'list', '--json'], { cwd: tmp });
  expect(listed.stderr).toBe('');
  expect(listed.code).toBe(0);
  // `ferry connections` alone lists them, as `ferry providers` does.
  const bare = await ferry(['connections', '--json'], { cwd: tmp });
  expect({ code: bare.code, listed: JSON.parse(bare.stdout) }).toEqual({ code: 0, listed: JSON.parse(listed.stdout) });

  const refused = await ferry(['connections', 'list', '--url', ready.url, '--key', 'fsk_not_the_key_0123456789'], { cwd: tmp });
  expect(refused.code).toBe(5);
  expect(refused.stderr).toMatch(/The host refused the key: .*export FERRY_URL=… FERRY_SECRET_KEY=…/);
  expect(ready.key).not.toBe('fsk_not_the_key_0123456789');
}, 240_000);
