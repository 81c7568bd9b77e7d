/**
 * A host process (`node host/main.ts`, the `ferry-server` entry) and a fault nothing caught. A
 * stray promise rejection used to end the process (Node 24's default), with every request and run
 * on it: it is logged, bounded, and the host keeps serving. An uncaught exception stays fatal:
 * one bounded fatal log line, then exit code 1 for the supervisor to restart the host. The faults
 * come from a preload (test/fixtures/stray-faults/preload.ts) on a signal, from outside the host's
 * own code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { generateEncryptionKey } from '../../host/crypto/cipher.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { TEST_SECRET_KEY, waitFor } from '../helpers/ferry.ts';

const MAIN = fileURLToPath(new URL('../../host/main.ts', import.meta.url));
const PRELOAD = fileURLToPath(new URL('../fixtures/stray-faults/preload.ts', import.meta.url));
/** Well above the logged message (2,000) and stack (4,000) with their JSON around them. */
const MAX_LINE_CHARS = 10_000;

interface HostProcess { child: ChildProcess; url: Promise<string>; lines: string[]; exited: Promise<number | null>; closed: boolean }

let db: TestDatabase;
let dataDir: string;
const started: ChildProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'ferry-process-faults-'));
}, 60_000);
afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await db?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function startHost(): HostProcess {
  const child = spawn(process.execPath, ['--import', PRELOAD, MAIN], {
    env: {
      ...process.env, DATABASE_URL: db.url, FERRY_PORT: '0', FERRY_SECRET_KEY: TEST_SECRET_KEY, FERRY_ENCRYPTION_KEY: generateEncryptionKey(),
      FERRY_DATA_DIR: dataDir, FERRY_RUNTIME_WORKERS: '1', FERRY_RESERVED_SLOTS: '0', FERRY_LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  const lines: string[] = [];
  let pending = '';
  let announce: (url: string) => void;
  const url = new Promise<string>((resolve) => { announce = resolve; });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      const running = /^Ferry is running at (\S+)/.exec(line);
      if (running) announce(running[1]!);
    }
  });
  child.stderr!.resume();
  // 'close', not 'exit': every line the process wrote has been read by then.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => { host.closed = true; resolve(code); }));
  const host: HostProcess = { child, url, lines, exited, closed: false };
  return host;
}

function logLine(host: HostProcess, msg: string): Promise<{ line: string; entry: any }> {
  return waitFor(`a log line "${msg}"`, async () => {
    const line = host.lines.find((l) => l.includes(msg));
    if (line === undefined && host.closed) throw new Error(`the host exited (${host.child.exitCode ?? host.child.signalCode}) without logging "${msg}"`);
    return line === undefined ? undefined : { line, entry: JSON.parse(line) };
  });
}

test('a stray promise rejection is logged, bounded, and the host keeps serving', async () => {
  const host = startHost();
  const url = await Promise.race([host.url, host.exited.then((code) => { throw new Error(`the host exited (${code}) before it started`); })]);
  expect((await fetch(`${url}/healthz`)).status).toBe(200);

  host.child.kill('SIGUSR2');
  const { line, entry } = await logLine(host, 'unhandled promise rejection');
  expect(line.length).toBeLessThan(MAX_LINE_CHARS);
  expect(entry).toMatchObject({ level: 50, module: 'process', fault: { type: 'Error', message: expect.stringMatching(/^a stray rejection x+… \(\d+ more characters\)$/) } });

  // Still serving after the rejection, and after another.
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  host.child.kill('SIGUSR2');
  await waitFor('a second rejection logged', async () => (host.lines.filter((l) => l.includes('unhandled promise rejection')).length === 2 ? true : undefined));
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  expect(host.child.exitCode).toBeNull();
}, 90_000);

test('an uncaught exception is logged as fatal, bounded, and the host exits 1 for its supervisor to restart it', async () => {
  const host = startHost();
  await Promise.race([host.url, host.exited.then((code) => { throw new Error(`the host exited (${code}) before it started`); })]);

  host.child.kill('SIGWINCH');
  expect(await host.exited).toBe(1);
  const { line, entry } = await logLine(host, 'uncaught exception');
  expect(line.length).toBeLessThan(MAX_LINE_CHARS);
  expect(entry).toMatchObject({ level: 60, module: 'process', fault: { type: 'Error', message: expect.stringMatching(/^an uncaught exception x+… \(\d+ more characters\)$/) } });
}, 90_000);
