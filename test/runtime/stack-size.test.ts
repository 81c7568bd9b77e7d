import { execFileSync } from 'node:child_process';
import { expect, test } from 'vitest';

const PROBE = `
  import ivm from 'isolated-vm';
  import { scriptStackKib } from './runtime/worker/stack-size.ts';
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const depth = await isolate.createContextSync().eval('let d = 0; const f = () => { d++; f(); }; try { f(); } catch {} d');
  process.stdout.write(JSON.stringify({ kib: scriptStackKib(), depth }));
`;

/** What a worker child under this RLIMIT_STACK reports, and how deep a script really gets. */
function probe(ulimit: string): { kib: number; depth: number } {
  const out = execFileSync('sh', ['-c', `ulimit -S -s ${ulimit} && exec "$0" --no-node-snapshot --input-type=module -e "$1"`, process.execPath, PROBE], { cwd: new URL('../..', import.meta.url) });
  return JSON.parse(out.toString()) as { kib: number; depth: number };
}

test("STACK_OVERFLOW's figure is the stack scripts really get: it follows RLIMIT_STACK, as the reachable depth does", () => {
  const small = probe('2048');
  const large = probe('8192');
  const unlimited = probe('unlimited');
  expect(small.kib).toBe(2048 - 24);
  expect(large.kib).toBe(8192 - 24);
  expect(unlimited.kib).toBe(small.kib);
  // Frames have one size here, so depth scales with the stack a script gets.
  expect(large.depth / small.depth).toBeCloseTo(large.kib / small.kib, 1);
  expect(unlimited.depth).toBeCloseTo(small.depth, -2);
});
