import ivm from 'isolated-vm';
import { afterEach, expect, test } from 'vitest';
import { createCodeCache } from '../../runtime/worker/code-cache.ts';

const isolates: ivm.Isolate[] = [];
function isolate(): ivm.Isolate {
  const created = new ivm.Isolate({ memoryLimit: 32 });
  isolates.push(created);
  return created;
}
afterEach(() => {
  for (const i of isolates.splice(0)) i.dispose();
});

function source(n: number): string {
  // ~20 KB of functions, so each cache is a few KB.
  const fns = Array.from({ length: 300 }, (_, i) => `function f${i}(x) { return x + ${i} + ${n}; }`).join('\n');
  return `${fns}\nf299(${n})`;
}

test('the first compile of a source produces its cache; new isolates then compile from it and run the same code', async () => {
  const cache = createCodeCache();
  const code = source(1);
  for (let i = 0; i < 3; i++) {
    const target = isolate();
    const script = await cache.compile(target, 'key-1', code, 'file:///a.js');
    expect(await script.run(target.createContextSync())).toBe(301);
  }
  expect(cache.stats()).toMatchObject({ produced: 1, hits: 2, rejected: 0, keys: 1 });
  expect(cache.stats().bytes).toBeGreaterThan(1000);

  const target = isolate();
  expect(cache.compileSync(target, 'key-2', source(2), 'file:///b.js').runSync(target.createContextSync())).toBe(303);
  expect(cache.stats()).toMatchObject({ produced: 2, keys: 2 });
});

test('keeps at most its byte budget, dropping the least recently used cache first', async () => {
  const probe = createCodeCache();
  await probe.compile(isolate(), 'probe', source(0), 'file:///p.js');
  const oneCache = probe.stats().bytes;

  const cache = createCodeCache(oneCache * 2 + oneCache / 2);
  await cache.compile(isolate(), 'a', source(1), 'file:///a.js');
  await cache.compile(isolate(), 'b', source(2), 'file:///b.js');
  await cache.compile(isolate(), 'a', source(1), 'file:///a.js'); // a is now the most recent
  await cache.compile(isolate(), 'c', source(3), 'file:///c.js'); // evicts b
  expect(cache.stats()).toMatchObject({ keys: 2, produced: 3, hits: 1 });
  expect(cache.stats().bytes).toBeLessThanOrEqual(oneCache * 2 + oneCache / 2);

  await cache.compile(isolate(), 'a', source(1), 'file:///a.js');
  await cache.compile(isolate(), 'b', source(2), 'file:///b.js');
  expect(cache.stats()).toMatchObject({ hits: 2, produced: 4 });
});
