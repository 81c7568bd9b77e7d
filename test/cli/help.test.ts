/**
 * Every command answers --help with exit 0, and an unknown command or option is a usage error
 * (exit 2); `ferry connections` alone lists them, as `ferry providers` does.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { main } from '../../cli/bin.ts';

const COMMANDS = ['init', 'compile', 'dev', 'dryrun', 'deploy', 'runs', 'logs', 'connections', 'trigger'];

it('answers --help for every command', async () => {
  for (const name of COMMANDS) expect([name, await main([name, '--help'], {})]).toEqual([name, 0]);
  expect(await main(['--help'], {})).toBe(0);
});

it('refuses an unknown command and an unknown option with exit 2', async () => {
  expect(await main(['nope'], {})).toBe(2);
  expect(await main(['runs', '--nope'], {})).toBe(2);
  expect(await main(['compile', 'extra'], {})).toBe(2);
  expect(await main(['connections', 'nope'], {})).toBe(2);
});

it('stops quietly, as a command killed by SIGPIPE does, when the reader of its output has gone (`ferry runs | head -1`)', async () => {
  const child = spawn(process.execPath, [join(import.meta.dirname, '../../cli/bin.ts'), '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy(); // the reader is gone before the first line is written
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((done) => child.once('exit', done));
  // It used to crash with an unhandled 'error' event (EPIPE) and its stack on stderr.
  expect({ code, stderr }).toEqual({ code: 141, stderr: '' });
});
