/**
 * A provider's 4xx to a very long URL (Microsoft Graph's `$skiptoken` links run to thousands of
 * characters) reaches the script as the proxy's own failure — method, the start of the URL,
 * status, body — not as a schema error about the failure text's length.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createScriptTester, liveProxy } from '../../testing/index.ts';

let server: Server;
let base: string;
let dir: string;
const tester = createScriptTester();

beforeAll(async () => {
  server = createServer((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"ResourceNotFound"}}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'ferry-long-url-'));
  await mkdir(join(dir, 'microsoft', 'syncs'), { recursive: true });
  await writeFile(join(dir, 'microsoft', 'syncs', 'applications.ts'), `
    import { createSync } from 'nango';
    import { z } from 'zod';
    export default createSync({ description: 'x', frequency: 'every hour', models: { App: z.object({ id: z.string() }) },
      exec: async (nango) => {
        await nango.get({ endpoint: '/v1.0/applications/delta', params: { $skiptoken: 'T'.repeat(3000) } });
      } });`);
});
afterAll(async () => {
  await tester.close();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

test("the script's call fails with the provider's status and body, the URL cut short", async () => {
  const run = await tester.run({ script: join(dir, 'microsoft', 'syncs', 'applications.ts'), proxy: liveProxy({ baseUrl: base }) });
  expect(run.ok).toBe(false);
  expect(run.error?.message).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/v1\.0\/applications\/delta\?%24skiptoken=T+… \(\d+ more characters\) answered 404: \{"error":\{"code":"ResourceNotFound"\}\}/);
  expect(run.error?.message).not.toMatch(/too_big|Too big/);
});
