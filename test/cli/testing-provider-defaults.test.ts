/**
 * `ferry/testing` paginates as the host does: a script that names no `paginate.type` (a Nango
 * script relying on its provider's defaults) walks with the built-in catalog entry of its
 * folder's provider, or with the entry a test gives; and an endpoint carrying its own query
 * (`/items?$top=2`) reaches the live server as that query, as through the host's proxy.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createScriptTester, liveProxy } from '../../testing/index.ts';

const IDS = ['a', 'b', 'c', 'd', 'e'];
let server: Server;
let base: string;
let dir: string;
const seen: string[] = [];
const tester = createScriptTester();

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    const page = Number(url.searchParams.get('page') ?? 1);
    const per = Number(url.searchParams.get('per_page') ?? url.searchParams.get('$top') ?? 2);
    const items = IDS.slice((page - 1) * per, page * per).map((id) => ({ id }));
    // GitHub's way: the next page in the Link header.
    if (page * per < IDS.length) res.setHeader('link', `<${base}${url.pathname}?page=${page + 1}&per_page=${per}>; rel="next"`);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(items));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'ferry-defaults-'));
  for (const provider of ['github', 'unknown-crm']) {
    await mkdir(join(dir, provider, 'syncs'), { recursive: true });
    await writeFile(join(dir, provider, 'syncs', 'items.ts'), `
      import { createSync } from 'nango';
      import { z } from 'zod';
      export default createSync({ description: 'x', frequency: 'every hour', models: { Item: z.object({ id: z.string() }) },
        exec: async (nango) => {
          for await (const page of nango.paginate({ endpoint: '/repos/acme/app/issues?state=all' })) await nango.batchSave(page, 'Item');
        } });`);
  }
});
afterAll(async () => {
  await tester.close();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

test("a script under github/ paginates with the built-in github entry's defaults (the Link header's next)", async () => {
  seen.length = 0;
  const run = await tester.run({ script: join(dir, 'github', 'syncs', 'items.ts'), proxy: liveProxy({ baseUrl: base }) });
  expect(run.error).toBeUndefined();
  expect(run.records('Item').map((r) => r.id)).toEqual(IDS);
  // The endpoint's own query arrives as a query, not as %3F in the path.
  expect(seen[0]).toBe('/repos/acme/app/issues?state=all');
  expect(seen).toHaveLength(3);
});

test('a provider without a built-in entry needs the test to give its defaults; given, they apply', async () => {
  const script = join(dir, 'unknown-crm', 'syncs', 'items.ts');
  const without = await tester.run({ script, proxy: liveProxy({ baseUrl: base }) });
  expect(without.error?.message).toMatch(/paginate\.type/);
  const given = await tester.run({ script, proxy: liveProxy({ baseUrl: base }), pagination: { type: 'link', link_rel_in_response_header: 'next' } });
  expect(given.error).toBeUndefined();
  expect(given.records('Item').map((r) => r.id)).toEqual(IDS);
});
