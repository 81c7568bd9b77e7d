import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeployError, deployScripts, type DeployProgress } from '../../cli/deploy.ts';
import { HostApiError } from '../../cli/host-client.ts';
import { startFakeHost, type FakeHost, type Handler } from './fake-host.ts';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'cli/bin.ts');
const KEY = 'sk_test_123';

interface DeployBody {
  scripts: Array<{ name: string; provider: string; kind: string; code: string; source_map?: string; hash: string }>;
}

/** Answers like the real host: new on first sight, unchanged when the hash is the same, changed otherwise. */
function deployingHost(): Handler {
  const known = new Map<string, string>();
  let version = 0;
  return (req) => {
    if (req.authorization !== `Bearer ${KEY}`) return { status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'invalid secret key' } } };
    if (req.method !== 'POST' || req.path !== '/deploy') return { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no route' } } };
    const scripts = (req.body as DeployBody).scripts.map((s) => {
      const status = !known.has(s.name) ? 'new' : known.get(s.name) === s.hash ? 'unchanged' : 'changed';
      known.set(s.name, s.hash);
      return { name: s.name, kind: s.kind, status };
    });
    if (scripts.some((s) => s.status !== 'unchanged')) version++;
    return { status: 200, body: { version, scripts } };
  };
}

let host: FakeHost;
let dir: string;

beforeEach(async () => {
  host = await startFakeHost(deployingHost());
  dir = await mkdtemp(join(tmpdir(), 'ferry-deploy-'));
  await cp(join(REPO, 'scripts/demo'), join(dir, 'demo'), { recursive: true });
});
afterEach(async () => {
  await host.close();
  await rm(dir, { recursive: true, force: true });
});

function runCli(args: string[], env: Record<string, string> = {}) {
  return promisify(execFile)(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, FERRY_URL: '', FERRY_SECRET_KEY: '', ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

describe('deployScripts', () => {
  it('bundles every script and posts them with their sha256, authenticated, reporting progress', async () => {
    const progress: DeployProgress[] = [];
    const result = await deployScripts({ dir, url: host.url, key: KEY, onProgress: (e) => progress.push(e) });

    expect(result).toEqual({
      version: 1,
      scripts: [
        { name: 'create-contact', kind: 'action', status: 'new' },
        { name: 'contacts', kind: 'sync', status: 'new' },
      ],
      warnings: [],
    });
    const [request] = host.requests;
    expect(request?.authorization).toBe(`Bearer ${KEY}`);
    const body = request?.body as DeployBody;
    expect(body.scripts.map((s) => [s.provider, s.kind, s.name])).toEqual([['demo', 'action', 'create-contact'], ['demo', 'sync', 'contacts']]);
    for (const script of body.scripts) {
      // The hash covers the code and its source map's positions (an edit that only moves lines
      // is a change), not the map's paths (test/cli/deploy-other-folder.test.ts).
      expect(script.hash).toBe(createHash('sha256').update(script.code).update('\0').update(JSON.parse(script.source_map!).mappings as string).digest('hex'));
      expect(script.code).toContain('__ferry_module');
      // The map covers the author's files only, named from the scripts folder's parent.
      const kind = script.kind === 'sync' ? 'syncs' : 'actions';
      expect(JSON.parse(script.source_map!).sources).toEqual(expect.arrayContaining([`${basename(dir)}/demo/${kind}/${script.name}.ts`, `${basename(dir)}/demo/models.ts`]));
      expect(script.source_map).not.toMatch(/node_modules|ferry-runtime:/);
    }
    expect(progress.map((e) => e.type)).toEqual(['bundled', 'bundled', 'uploading']);
  });

  it('is idempotent: deploying the same sources again changes nothing; editing one changes only it', async () => {
    await deployScripts({ dir, url: host.url, key: KEY });
    const again = await deployScripts({ dir, url: host.url, key: KEY });
    expect(again.scripts.map((s) => s.status)).toEqual(['unchanged', 'unchanged']);

    const entry = join(dir, 'demo/syncs/contacts.ts');
    await writeFile(entry, (await readFile(entry, 'utf8')).replace('every 1 minute', 'every 5 minutes'));
    const edited = await deployScripts({ dir, url: host.url, key: KEY });
    expect(edited.scripts).toEqual([
      { name: 'create-contact', kind: 'action', status: 'unchanged' },
      { name: 'contacts', kind: 'sync', status: 'changed' },
    ]);
    expect(edited.version).toBe(2);
  });

  it('deploys nothing when any script fails to bundle, and lists every failure', async () => {
    await writeFile(join(dir, 'demo/syncs/bad.ts'), `import { spawn } from 'node:child_process';\nexport default spawn;`);
    const error = await deployScripts({ dir, url: host.url, key: KEY }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).failures.map((f) => [f.script.name, f.error.code])).toEqual([['bad', 'FORBIDDEN_IMPORT']]);
    expect(host.requests).toHaveLength(0);
  });

  it("surfaces the host's error body as a HostApiError", async () => {
    const error = await deployScripts({ dir, url: host.url, key: 'wrong' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostApiError);
    expect(error).toMatchObject({ status: 401, code: 'UNAUTHORIZED', message: 'invalid secret key' });
  });
});

describe('ferry deploy (the binary)', () => {
  it('prints what changed and exits 0; --json prints the host answer', async () => {
    const first = await runCli(['deploy', '--dir', dir, '--url', host.url, '--key', KEY]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Deployed version 1');
    expect(first.stdout).toMatch(/new\s+sync\s+contacts/);
    expect(first.stderr).toMatch(/bundled demo\/syncs\/contacts/);

    const second = await runCli(['deploy', '--dir', dir, '--json'], { FERRY_URL: host.url, FERRY_SECRET_KEY: KEY });
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ ok: true, version: 1, scripts: [{ status: 'unchanged' }, { status: 'unchanged' }] });
  });

  it('exits 5 when the key is refused, 4 when the host is unreachable, 3 on a forbidden import, 2 on bad usage', async () => {
    expect((await runCli(['deploy', '--dir', dir, '--url', host.url, '--key', 'nope'])).code).toBe(5);
    const closed = await startFakeHost(() => ({ status: 200, body: {} }));
    await closed.close();
    expect((await runCli(['deploy', '--dir', dir, '--url', closed.url, '--key', KEY])).code).toBe(4);

    await writeFile(join(dir, 'demo/actions/shell.ts'), `import { exec } from 'child_process';\nexport default exec;`);
    // The type-check finds it first; without it, the bundler refuses it.
    const checked = await runCli(['deploy', '--dir', dir, '--url', host.url, '--key', KEY]);
    expect(checked.code).toBe(3);
    expect(checked.stderr).toMatch(/shell\.ts:1:\d+ TS2307: Cannot find module 'child_process'[\s\S]*child_process is a Node built-in/);
    const forbidden = await runCli(['deploy', '--dir', dir, '--no-typecheck', '--url', host.url, '--key', KEY]);
    expect(forbidden.code).toBe(3);
    expect(forbidden.stderr).toContain('"child_process"');
    expect(forbidden.stderr).toContain('shell.ts:1:');

    expect((await runCli(['deploy', '--nope'])).code).toBe(2);
    // Nango's `nango deploy <environment>`: the answer says where an environment is in Ferry.
    const environment = await runCli(['deploy', 'prod']);
    expect(environment.code).toBe(2);
    expect(environment.stderr).toMatch(/deploy takes no arguments \(got prod\): it deploys to the host --url \/ FERRY_URL names/);
    expect((await runCli(['launch'])).code).toBe(2);
    const help = await runCli(['deploy', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: ferry deploy');
  }, 180_000);
});
