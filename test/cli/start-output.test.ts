/**
 * What `ferry start` (not the demo) prints, through the real binary on real Postgres: a person at
 * a terminal (a pseudo-terminal from util-linux `script`) sees the banner and no JSON log line;
 * with stdout piped, as in production, stdout holds only the host's JSON log lines and the banner
 * is on stderr. Each attempt has its own database.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve, join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/ferry.ts';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'cli/bin.ts');
const KEY = 'fsk_start_output_key_0123456789';

let child: ChildProcess | undefined;
let db: TestDatabase | undefined;
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    process.kill(-child.pid!, 'SIGKILL');
    await new Promise((done) => child!.once('exit', done));
  }
  child = undefined;
  await db?.drop();
  db = undefined;
});

function hostEnv(dbUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: dbUrl, FERRY_SECRET_KEY: KEY, FERRY_PORT: '0' };
  for (const name of ['FERRY_LOG_LEVEL', 'FERRY_DEMO', 'FERRY_URL']) delete env[name];
  return env;
}

/** Starts `command`, its own process group; resolves the host's URL once the banner names it. */
async function start(command: string, args: string[], env: NodeJS.ProcessEnv) {
  const output = { stdout: '', stderr: '' };
  child = spawn(command, args, { cwd: REPO, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  child.stdout!.on('data', (d) => { output.stdout += d; });
  child.stderr!.on('data', (d) => { output.stderr += d; });
  const url = await waitFor('the banner', async () => {
    if (child!.exitCode !== null) throw new Error(`ferry start exited with ${child!.exitCode}: ${output.stdout}${output.stderr}`);
    return /Ferry is running at (http:\/\/[\d.:]+)/.exec(output.stdout + output.stderr)?.[1];
  }, 90_000);
  return { url, output };
}

/**
 * Asks the host something (logged at info), then stops it with `stop` (SIGINT, or Ctrl-C typed
 * on the terminal) and waits for it to exit.
 */
async function useThenStop(url: string, stop: () => void): Promise<number | null> {
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  expect((await fetch(`${url}/connections`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
  const exited = new Promise<number | null>((done) => child!.once('exit', (code) => done(code)));
  stop();
  return exited;
}

test('at a terminal: the banner and no JSON log line, from start to Ctrl-C', async () => {
  db = await createTestDatabase();
  // `script` runs the command on a pseudo-terminal and copies what it prints to our stdout. It
  // runs it through $SHELL: `exec` makes ferry the terminal's foreground process, as when a
  // person types the command. Without it a shell that waits for it (dash, when SHELL is unset)
  // gets the Ctrl-C too and exits 130 whatever ferry does.
  const { url, output } = await start('script', ['-qfec', `exec '${process.execPath}' '${BIN}' start`, '/dev/null'], { ...hostEnv(db.url), SHELL: '/bin/sh' });
  expect(await useThenStop(url, () => child!.stdin!.write('\u0003'))).toBe(0);
  const lines = output.stdout.split(/\r?\n/).filter((line) => line.trim() !== '');
  expect(lines.filter((line) => line.trimStart().startsWith('{'))).toEqual([]);
  expect(lines).toContain(`Secret key: ${KEY}`);
  expect(output.stdout).toContain('FERRY_LOG_LEVEL=info');
  expect(output.stdout).toContain('Ferry stopped.');
}, 180_000);

test('with stdout piped (production): stdout is JSON log lines only; the banner is on stderr', async () => {
  db = await createTestDatabase();
  const { url, output } = await start(process.execPath, [BIN, 'start'], hostEnv(db.url));
  expect(await useThenStop(url, () => process.kill(-child!.pid!, 'SIGINT'))).toBe(0);
  const lines = output.stdout.split('\n').filter((line) => line !== '');
  const notJson = lines.filter((line) => { try { JSON.parse(line); return false; } catch { return true; } });
  expect(notJson).toEqual([]);
  expect(lines.map((line) => JSON.parse(line).msg)).toContain('Ferry API listening');
  expect(output.stderr).toContain(`Ferry is running at ${url}`);
  expect(output.stderr).toContain(`Secret key: ${KEY}`);
}, 180_000);
