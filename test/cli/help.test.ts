/** Every command answers --help with exit 0, and an unknown command or option is a usage error (exit 2). */
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
});
