import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'scripts/**/*.test.ts'],
    // Nango's own tests of copied scripts: run by test/cli/testing-nango-tests.test.ts in a project of their own.
    exclude: [...configDefaults.exclude, 'test/fixtures/nango-project/**'],
    // Every test file talks to a real Postgres and spawns worker processes: keep files in
    // separate forks and give slow machines room.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll's own default (1 s) is shorter than one page render or one run on a loaded
    // 2-core machine; a poll names its own timeout where it waits for longer work.
    expect: { poll: { timeout: 15_000 } },
    fileParallelism: true,
    maxWorkers: 2,
    // In CI only, a failed test gets one more run: the end-to-end tests race real processes and
    // timers on a shared 2-core machine. A broken behaviour still fails its second run; locally
    // every failure shows at once.
    retry: process.env.CI ? 1 : 0,
  },
});
