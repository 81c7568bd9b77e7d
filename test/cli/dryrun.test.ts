import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DryRunError, dryRun } from '../../cli/dryrun.ts';
import { HostApiError } from '../../cli/host-client.ts';
import { startDemoProvider, type Contact, type DemoProvider } from '../../demo/provider.ts';
import { createLogger } from '../../host/logger.ts';
import { createRuntime, ProxyRequestSchema, type LogEntry, type Runtime } from '../../runtime/index.ts';
import { forwardToProvider } from '../demo/direct-proxy.ts';
import { startFakeHost, type FakeHost } from './fake-host.ts';

const REPO = resolve(import.meta.dirname, '../..');
const SCRIPTS = join(REPO, 'scripts');
const KEY = 'sk_test_dry';
const logger = createLogger({ level: 'silent' });

let provider: DemoProvider;
let host: FakeHost;
let runtime: Runtime;
/** What the host's GET /syncs/demo%2Fcontacts/status answers; null means 404 (never run). */
let lastSyncDate: string | null;

beforeAll(() => {
  runtime = createRuntime({ workers: 1, logger });
});
afterAll(async () => {
  await runtime.close();
});

beforeEach(async () => {
  lastSyncDate = null;
  provider = await startDemoProvider({ apiKey: 'crm-secret', contacts: 120, seed: 3 });
  // Plays the host API: connection lookup, sync status, and a proxy that adds the provider's key.
  host = await startFakeHost(async (req) => {
    if (req.authorization !== `Bearer ${KEY}`) return { status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'bad key' } } };
    const url = new URL(req.path, 'http://host');
    if (req.method === 'GET' && url.pathname === '/connections/conn-1') {
      return { status: 200, body: { connection_id: 'conn-1', provider: 'demo', connection_config: {}, metadata: { region: 'eu' } } };
    }
    if (req.method === 'POST' && url.pathname === '/connections/conn-1/proxy') {
      return { status: 200, body: await forwardToProvider(provider, ProxyRequestSchema.parse(req.body)) };
    }
    if (req.method === 'GET' && url.pathname === '/syncs/demo%2Fcontacts/status' && url.searchParams.get('connection_id') === 'conn-1' && lastSyncDate) {
      return { status: 200, body: { last_sync_date: lastSyncDate } };
    }
    return { status: 404, body: { error: { code: 'NOT_FOUND', message: `nothing at ${url.pathname}` } } };
  });
});
afterEach(async () => {
  await host.close();
  await provider.close();
});

const base = () => ({ dir: SCRIPTS, url: host.url, key: KEY, logger, runtime });

describe('dryRun', () => {
  it('runs a sync through the host proxy and collects every record without the provider key', async () => {
    const logs: LogEntry[] = [];
    const run = await dryRun({ ...base(), name: 'contacts', connectionId: 'conn-1', onLog: (e) => logs.push(...e) });

    expect(run.result).toMatchObject({ ok: true });
    const contacts = run.models.get('Contact');
    expect(contacts?.records.size).toBe(120);
    expect(contacts?.saved).toBe(120);
    expect([...(contacts?.records.keys() ?? [])].sort()).toEqual(provider.contacts().map((c) => c.id).sort());
    expect(logs.map((l) => l.message)).toContain('Fetching all contacts');
    expect(run.result.usage.proxyCalls).toBe(2);
    // The CLI never held the provider's credentials: every proxied call went through the host.
    const proxied = host.requests.filter((r) => r.path === '/connections/conn-1/proxy');
    expect(proxied).toHaveLength(2);
    expect(JSON.stringify(proxied)).not.toContain('crm-secret');
  });

  it("uses the host's last sync date unless --full", async () => {
    lastSyncDate = new Date().toISOString();
    const changed = provider.updateContacts(4);

    const incremental = await dryRun({ ...base(), name: 'demo/contacts', connectionId: 'conn-1' });
    expect(incremental.lastSyncDate).toBe(lastSyncDate);
    expect([...(incremental.models.get('Contact')?.records.keys() ?? [])].sort()).toEqual(changed.sort());
    expect(provider.requests.at(-1)?.query['updated_since']).toBe(lastSyncDate);

    const full = await dryRun({ ...base(), name: 'contacts', connectionId: 'conn-1', full: true });
    expect(full.lastSyncDate).toBeNull();
    expect(full.models.get('Contact')?.records.size).toBe(120);
    expect(host.requests.filter((r) => r.path.startsWith('/syncs/'))).toHaveLength(1);
  });

  it('runs an action with its input and returns its output', async () => {
    const run = await dryRun({
      ...base(),
      name: 'create-contact',
      connectionId: 'conn-1',
      input: { first_name: 'Grace', last_name: 'Hopper', email: 'grace@example.com' },
    });
    expect(run.result).toMatchObject({ ok: true, output: { first_name: 'Grace', email: 'grace@example.com' } });
    const created = (run.result as { output: Contact }).output;
    expect(provider.contacts().some((c) => c.id === created.id)).toBe(true);
  });

  it('refuses an unknown script, an action without input, and surfaces host errors', async () => {
    await expect(dryRun({ ...base(), name: 'nope', connectionId: 'conn-1' })).rejects.toMatchObject({ code: 'SCRIPT_NOT_FOUND' });
    await expect(dryRun({ ...base(), name: 'create-contact', connectionId: 'conn-1' })).rejects.toBeInstanceOf(DryRunError);
    const missing = await dryRun({ ...base(), name: 'contacts', connectionId: 'conn-404' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(HostApiError);
    expect(missing).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });
});

describe('ferry dryrun (the binary)', () => {
  const cli = (args: string[]) =>
    promisify(execFile)(process.execPath, [join(REPO, 'cli/bin.ts'), 'dryrun', ...args, '--url', host.url, '--key', KEY], { cwd: REPO }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );

  it('prints records as a table, logs and usage; --json prints the records', async () => {
    const text = await cli(['contacts', '--connection', 'conn-1', '--limit', '3']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Contact: 120 record\(s\)/);
    expect(text.stdout).toMatch(/^id\s+first_name/m);
    expect(text.stdout).toContain('… 117 more');
    expect(text.stdout).toMatch(/Succeeded: wall \d+ ms, CPU \d+ ms, peak heap [\d.]+ MB/);
    expect(text.stderr).toContain('Fetching all contacts');

    const json = await cli(['contacts', '--connection', 'conn-1', '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; models: { Contact: { count: number; records: unknown[] } }; usage: { cpuMs: number } };
    expect(parsed.ok).toBe(true);
    expect(parsed.models.Contact.count).toBe(120);
    expect(parsed.models.Contact.records).toHaveLength(120);
  });

  it('names each declared model with no records', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-dryrun-empty-'));
    try {
      await mkdir(join(dir, 'demo/syncs'), { recursive: true });
      await writeFile(join(dir, 'demo/syncs/quiet.ts'), `import { createSync } from 'ferry/sdk';
import { z } from 'zod';
const Item = z.object({ id: z.string() });
export default createSync({ description: 'saves nothing', frequency: 'every hour', models: { Contact: Item, Deal: Item }, exec: async (ctx) => { ctx.log('nothing today'); } });
`);
      const quiet = await cli(['quiet', '--connection', 'conn-1', '--dir', dir]);
      expect(quiet.code).toBe(0);
      expect(quiet.stdout).toMatch(/^Contact: no records/m);
      expect(quiet.stdout).toMatch(/^Deal: no records/m);
      expect(quiet.stdout).not.toMatch(/saved/);
      const json = JSON.parse((await cli(['quiet', '--connection', 'conn-1', '--dir', dir, '--json'])).stdout) as { models: Record<string, { count: number }> };
      expect(json.models).toMatchObject({ Contact: { count: 0 }, Deal: { count: 0 } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Separate tests: each spawns CLI processes that bundle a script, slow on a loaded machine.
  it('never says "saved": a dry run writes nothing', async () => {
    const sync = await cli(['contacts', '--connection', 'conn-1', '--limit', '0']);
    expect(sync.stdout).toMatch(/^Contact: 120 record\(s\) \(120 via batchSave, .*\); not written \(dry run\)/m);
    expect(sync.stdout).not.toMatch(/saved/);
    expect(sync.stderr).not.toMatch(/for real/);
  });

  it('warns that an action calls the provider for real', async () => {
    const action = await cli(['create-contact', '--connection', 'conn-1', '--input', '{"first_name":"Ada","last_name":"Byron","email":"ada@example.com"}']);
    expect(action.stderr).toMatch(/warning: create-contact is an action: its calls reach the provider for real/);
    expect(action.code).toBe(0);
  });

  it('exits 1 when the script fails and 2 on bad input JSON', async () => {
    provider.failNext(500, 10);
    const failed = await cli(['contacts', '--connection', 'conn-1']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/script\/SCRIPT_ERROR: .*500/);
    expect((await cli(['create-contact', '--connection', 'conn-1', '--input', '{nope'])).code).toBe(2);
    expect((await cli(['contacts'])).code).toBe(2);
  });

  it("takes the connection after the name, as nango dryrun <name> <connection-id> does", async () => {
    const positional = await cli(['contacts', 'conn-1', '--limit', '0', '--json']);
    expect(positional.code, positional.stderr).toBe(0);
    expect(JSON.parse(positional.stdout)).toMatchObject({ ok: true });
    const both = await cli(['contacts', 'conn-1', '--connection', 'conn-2']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/two connections given: conn-1 and --connection conn-2/);
  });

  it('a failing script names where it threw in its .ts file, in the result and on the terminal', async () => {
    const project = await mkdtemp(join(tmpdir(), 'ferry-dryrun-throws-'));
    const dir = join(project, 'scripts');
    try {
      await mkdir(join(dir, 'demo/syncs'), { recursive: true });
      await writeFile(join(dir, 'demo/syncs/throws.ts'), `import { createSync } from 'ferry/sdk';
import { z } from 'zod';

export default createSync({
  description: 'reads contacts, then gives up',
  frequency: 'every hour', models: { Contact: z.object({ id: z.string() }) },
  exec: async (nango) => {
    const { data } = await nango.get({ endpoint: '/v1/contacts' });
    if (data) throw new Error('no contacts with a phone');
  },
});
`);
      const run = await dryRun({ ...base(), dir, name: 'throws', connectionId: 'conn-1' });
      expect(run.result).toMatchObject({ ok: false, error: { message: 'no contacts with a phone', location: { file: 'scripts/demo/syncs/throws.ts', line: 9, column: 21 } } });
      const printed = await cli(['throws', '--connection', 'conn-1', '--dir', dir]);
      expect(printed.code).toBe(1);
      expect(printed.stderr).toContain('script/SCRIPT_ERROR: no contacts with a phone at scripts/demo/syncs/throws.ts:9:21');
      expect(printed.stderr).toMatch(/^\s+at .*\(scripts\/demo\/syncs\/throws\.ts:9:21\)$/m);
      expect(printed.stderr).not.toContain('file:///script.js');
    } finally {
      await rm(project, { recursive: true, force: true });
    }
  });
});
