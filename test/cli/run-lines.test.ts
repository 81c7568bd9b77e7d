/** The line `ferry dev` prints for a finished run: counts, wall, peak memory; a failure's code, message and script location. */
import { expect, it } from 'vitest';
import { formatRunLine } from '../../cli/run-lines.ts';

it('formats a succeeded and a failed run as one readable line each', () => {
  const base = { id: '7', sync: 'contacts', kind: 'sync', started_at: null, finished_at: null };
  expect(formatRunLine({ ...base, status: 'succeeded', counts: { added: 500, updated: 3, deleted: 0 }, usage: { wall_ms: 1234, peak_heap_bytes: 5 * 1024 * 1024 } }, 'demo-connection'))
    .toBe('✓ sync contacts on demo-connection (run 7) succeeded: 500 added, 3 updated, 0 deleted; wall 1.2 s, peak 5.0 MB');
  const failed = formatRunLine({
    ...base, status: 'failed', counts: { added: 100, updated: 0, deleted: 0 }, usage: { wall_ms: 80, peak_heap_bytes: 1024 * 1024 },
    error: { code: 'SCRIPT_ERROR', message: 'boom', stack: 'Error: boom\n    at exec (scripts/demo/syncs/contacts.ts:21:13)', location: { file: 'scripts/demo/syncs/contacts.ts', line: 21, column: 13 } },
  }, 'demo-connection');
  expect(failed).toBe('✗ sync contacts on demo-connection (run 7) failed: SCRIPT_ERROR: boom at scripts/demo/syncs/contacts.ts:21:13; 100 added, 0 updated, 0 deleted; wall 80 ms, peak 1.0 MB');
  // The location is the host's (mapped through the source map), never read out of the script's stack text.
  const forged = formatRunLine({ ...base, status: 'failed', error: { code: 'SCRIPT_ERROR', message: 'x', stack: 'Error: x\n    at evil (scripts/evil.ts:1:1)' } }, 'demo-connection');
  expect(forged).not.toContain('evil.ts');
});
