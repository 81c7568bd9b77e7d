/**
 * Scripts of the same name under different providers (figma/delete-comment beside
 * linear/delete-comment, figma/comments beside linear/comments) deploy side by side and are
 * addressed unambiguously: a connection picks its provider's script, `provider/name` must name
 * the connection's provider, a name deployed only for other providers is a 400 naming them, and
 * removing one provider's sync leaves the other's schedule alone. The CLI addresses them the same
 * way (`ferry trigger figma/comments`, `ferry dryrun` naming the candidates of a bare name).
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deploySources, readAll, startTestFerry, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';

const REPO = resolve(import.meta.dirname, '../..');

/** Each provider's API answers under its own prefix, and says who answered. */
function startProviders(): Promise<{ url: string; deleted: string[]; close(): Promise<void> }> {
  const deleted: string[] = [];
  const server: Server = createServer((req, res) => {
    const [, provider, resource, id] = (req.url ?? '').split('?')[0]!.split('/');
    res.setHeader('content-type', 'application/json');
    if (req.method === 'DELETE' && resource === 'comments' && id) {
      deleted.push(`${provider}:${id}`);
      res.end(JSON.stringify({ deleted: id, by: provider }));
      return;
    }
    if (req.method === 'GET' && resource === 'comments') {
      res.end(JSON.stringify([1, 2].map((n) => ({ id: `${provider}-${n}`, text: `a ${provider} comment` }))));
      return;
    }
    res.statusCode = 404;
    res.end('{}');
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deleted,
    close: () => new Promise((done) => server.close(() => done())),
  })));
}

const deleteComment = (provider: string) => `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({
  description: 'deletes a ${provider} comment',
  input: z.object({ id: z.string() }),
  output: z.object({ by: z.string() }),
  exec: async (nango, input) => {
    const { data } = await nango.delete({ endpoint: '/${provider}/comments/' + input.id });
    return { by: data.by };
  },
});`;

const comments = (provider: string) => `
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
export default createSync({
  description: '${provider} comments',
  frequency: 'every day',
  autoStart: false,
  models: { Comment: z.object({ id: z.string(), text: z.string() }) },
  exec: async (nango) => {
    const { data } = await nango.get({ endpoint: '/${provider}/comments' });
    await nango.batchSave(data, 'Comment');
  },
});`;

const ALL = {
  'figma/actions/delete-comment.ts': deleteComment('figma'),
  'linear/actions/delete-comment.ts': deleteComment('linear'),
  'figma/syncs/comments.ts': comments('figma'),
  'linear/syncs/comments.ts': comments('linear'),
};

let ferry: TestFerry;
let providers: Awaited<ReturnType<typeof startProviders>>;

beforeAll(async () => {
  [ferry, providers] = await Promise.all([startTestFerry(), startProviders()]);
  for (const name of ['figma', 'linear']) {
    expect((await ferry.api.put(`/providers/${name}`, { base_url: providers.url, auth: { type: 'none' } })).status).toBe(200);
    expect((await ferry.api.post('/connections', { connection_id: `${name}-1`, provider: name })).status).toBe(201);
  }
}, 60_000);
afterAll(async () => {
  await ferry?.close();
  await providers?.close();
});

describe('the host', () => {
  test('deploys two providers\' scripts of one name side by side and lists both', async () => {
    const result = await deploySources(ferry, ALL);
    expect(result.scripts.map((s) => `${s.status} ${s.provider}/${s.name}`).sort()).toEqual([
      'new figma/comments', 'new figma/delete-comment', 'new linear/comments', 'new linear/delete-comment',
    ]);
    const { body } = await ferry.api.get('/scripts');
    expect(body.scripts.map((s: any) => `${s.provider}/${s.name}`)).toEqual(['figma/comments', 'linear/comments', 'figma/delete-comment', 'linear/delete-comment']);
    // Deploying the same set again changes nothing: each is compared with its own provider's version.
    expect((await deploySources(ferry, ALL)).scripts.every((s) => s.status === 'unchanged')).toBe(true);
  });

  test('an action call runs the connection\'s provider\'s script, by bare name or provider/name', async () => {
    const figma = await ferry.api.post('/actions/delete-comment', { connection_id: 'figma-1', input: { id: 'c1' } });
    expect(figma).toMatchObject({ status: 200, body: { output: { by: 'figma' } } });
    const linear = await ferry.api.post('/actions/linear%2Fdelete-comment', { connection_id: 'linear-1', input: { id: 'c2' } });
    expect(linear).toMatchObject({ status: 200, body: { output: { by: 'linear' } } });
    expect(providers.deleted).toEqual(['figma:c1', 'linear:c2']);
  });

  test('provider/name of another provider than the connection\'s is a 400 naming both', async () => {
    const mismatch = await ferry.api.post('/actions/figma%2Fdelete-comment', { connection_id: 'linear-1', input: { id: 'c3' } });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error.code).toBe('PROVIDER_MISMATCH');
    expect(mismatch.body.error.message).toMatch(/"figma\/delete-comment" is for provider "figma" but connection "linear-1" is a "linear" connection/);
    expect(providers.deleted).not.toContain('figma:c3');
    const malformed = await ferry.api.post('/actions/Figma%2F%2Fx', { connection_id: 'linear-1', input: {} });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('INVALID_REQUEST');
  });

  test('a name deployed only for other providers is a 400 naming where it is; a name deployed nowhere is a 404', async () => {
    await deploySources(ferry, { ...ALL, 'figma/actions/resolve-thread.ts': deleteComment('figma') });
    const elsewhere = await ferry.api.post('/actions/resolve-thread', { connection_id: 'linear-1', input: { id: 'x' } });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error).toMatchObject({ code: 'PROVIDER_MISMATCH' });
    expect(elsewhere.body.error.message).toMatch(/not deployed for provider "linear".*deployed as figma\/resolve-thread/);
    expect((await ferry.api.post('/actions/nowhere', { connection_id: 'linear-1', input: {} })).status).toBe(404);
  });

  test('each connection runs its own provider\'s sync; runs filter by name or provider/name', async () => {
    for (const [connection, sync] of [['figma-1', 'comments'], ['linear-1', 'linear/comments']] as const) {
      const trigger = await ferry.api.post(`/syncs/${encodeURIComponent(sync)}/trigger`, { connection_id: connection });
      expect(trigger.status).toBe(202);
      expect(await waitForRun(ferry.api, connection, 'comments')).toMatchObject({ status: 'succeeded', sync: 'comments', counts: { added: 2 } });
    }
    expect((await readAll(ferry.api, 'figma-1', 'Comment')).records.map((r) => r.id)).toEqual(['figma-1', 'figma-2']);
    expect((await readAll(ferry.api, 'linear-1', 'Comment')).records.map((r) => r.id)).toEqual(['linear-1', 'linear-2']);

    const runs = await ferry.api.get('/runs?connection_id=figma-1&sync=figma%2Fcomments');
    expect(runs.status).toBe(200);
    expect(runs.body.runs.map((r: any) => `${r.provider}/${r.sync}`)).toEqual(['figma/comments']);
    const wrong = await ferry.api.get('/runs?connection_id=figma-1&sync=linear%2Fcomments');
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.code).toBe('PROVIDER_MISMATCH');
    expect((await ferry.api.get('/syncs/figma%2Fcomments/held-deletes?connection_id=figma-1')).body).toEqual({ held: [] });
    const heldElsewhere = await ferry.api.get('/syncs/linear%2Fcomments/held-deletes?connection_id=figma-1');
    expect(heldElsewhere.status).toBe(400);
    expect(heldElsewhere.body.error.code).toBe('PROVIDER_MISMATCH');
    const status = await ferry.api.get('/syncs/linear%2Fcomments/status?connection_id=linear-1');
    expect(status.body).toMatchObject({ sync: 'comments', provider: 'linear', last_run: { status: 'succeeded' } });
  });

  test('removing one provider\'s sync leaves the other provider\'s sync of that name scheduled', async () => {
    const { 'linear/syncs/comments.ts': _gone, ...rest } = ALL;
    const result = await deploySources(ferry, rest);
    expect(result.scripts.filter((s) => s.status !== 'unchanged').map((s) => `${s.status} ${s.provider}/${s.name}`).sort())
      .toEqual(['removed figma/resolve-thread', 'removed linear/comments']);
    expect((await ferry.api.get('/syncs/comments/status?connection_id=figma-1')).status).toBe(200);
    const linear = await ferry.api.get('/syncs/comments/status?connection_id=linear-1');
    expect(linear.status).toBe(400);
    expect(linear.body.error.message).toMatch(/not deployed for provider "linear".*deployed as figma\/comments/);
    const states = await ferry.db.sql<{ connection_id: string }[]>`
      select c.connection_id from sync_state s join connections c on c.id = s.connection_id where s.sync_name = 'comments'`;
    expect(states.map((r) => r.connection_id)).toEqual(['figma-1']);
  });
});

describe('the CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-same-name-'));
    for (const [path, source] of Object.entries(ALL)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), source);
    }
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) =>
    promisify(execFile)(process.execPath, [join(REPO, 'cli/bin.ts'), ...args, '--url', ferry.url, '--key', TEST_SECRET_KEY], { cwd: REPO }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );

  test('ferry deploy names each script as provider/name', async () => {
    const deployed = await cli('deploy', '--dir', dir, '--yes');
    expect(deployed.code).toBe(0);
    expect(deployed.stdout).toMatch(/new\s+sync\s+linear\/comments/);
  });

  test('ferry trigger provider/name runs that script; another provider\'s is refused naming it', async () => {
    const ok = await cli('trigger', 'linear/comments', '--connection', 'linear-1', '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ queued: expect.any(Boolean) });
    const refused = await cli('trigger', 'figma/comments', '--connection', 'linear-1');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/"figma\/comments" is for provider "figma" but connection "linear-1" is a "linear" connection/);
  });

  test('ferry dryrun of a bare name two providers share names both candidates; provider/name runs one', async () => {
    const ambiguous = await cli('dryrun', 'delete-comment', '--connection', 'linear-1', '--dir', dir, '--input', '{"id":"d1"}');
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/figma\/delete-comment, linear\/delete-comment/);
    const one = await cli('dryrun', 'linear/comments', '--connection', 'linear-1', '--dir', dir, '--json');
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout).models.Comment.records.map((r: any) => r.id)).toEqual(['linear-1', 'linear-2']);
  });
});
