/**
 * Ferry's CLI in a child process, as a user runs it from a terminal (`ferry dev`, `npm start`):
 * its output gathered as it comes, a wait that fails at once (with its stderr) if the process
 * exits, and a clean stop. The process and its temporary folders belong to the test attempt that
 * made them: they are killed and removed when it finishes, so CI's retry starts with none.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { onTestFinished } from 'vitest';
import { waitFor } from './ferry.ts';

export const REPO = resolve(import.meta.dirname, '../..');
const CLI = join(REPO, 'cli/bin.ts');

export interface CliProcess {
  child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** The JSON lines of stdout so far (`--json` events). */
  events(): Array<Record<string, any>>;
  /** Polls `check` until it returns a value; fails at once, naming stderr, if the process exits first. */
  waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

/** The environment `ferry dev` gets in a terminal: warnings only, and no secret key, so dev makes its own. */
export function devEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FERRY_LOG_LEVEL: 'warn' };
  delete env.FERRY_SECRET_KEY;
  return env;
}

/** Writes `files` (paths relative to `dir`, folders made as needed). */
export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, source] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), source);
  }
}

/** `ferry <args…>` run to its end in the repository: its exit code and output, whatever the code. */
export function runFerry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [CLI, ...args], { cwd: REPO }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

/** A temporary folder of this test attempt's own, removed when it finishes. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `node <argv…>` (this Node, the one the tests run on) in `cwd`; killed when the test attempt finishes. */
export function spawnNode(argv: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): CliProcess {
  const child = spawn(process.execPath, argv, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  onTestFinished(async () => {
    if (exited()) return;
    child.kill('SIGKILL');
    await exit;
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    events: () => stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, any>),
    waitFor: (what, check, timeoutMs) => waitFor(what, async () => {
      if (exited()) throw new Error(`${argv.join(' ')} exited with ${child.exitCode ?? child.signalCode} while waiting for ${what}: ${stderr}`);
      return check();
    }, timeoutMs),
    async stop(signal) {
      if (!exited()) child.kill(signal);
      return exit;
    },
  };
}

/** `node cli/bin.ts <args…>`: the `ferry` command from this checkout. */
export function spawnCli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): CliProcess {
  return spawnNode([CLI, ...args], options);
}
