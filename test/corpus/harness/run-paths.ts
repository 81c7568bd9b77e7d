/**
 * Runs scripts with Nango fixtures through every path a developer and the host take:
 * `ferry compile` (type-check, bundle, read the definition), `ferry/testing`, `ferry dryrun`,
 * and `ferry deploy` followed by a run on a real host. Every path talks HTTP to one replay
 * server, and each one's records or output are compared with the fixture's.
 */
import { lookup as dnsLookup } from 'node:dns';
import { resolve } from 'node:path';
import { createLogger } from '@ferry/host/logger';
import type { Runtime } from '@ferry/runtime/contract';
import { bundleScript } from '../../../cli/bundle.ts';
import { deployScripts } from '../../../cli/deploy.ts';
import { dryRun } from '../../../cli/dryrun.ts';
import { typeCheckScripts, formatDiagnostic } from '../../../cli/typecheck.ts';
import { createScriptTester, FixtureMismatchError, liveProxy, nangoReplayProxy, type ProxyFn } from '../../../testing/index.ts';
import { readAll, startTestFerry, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../../helpers/ferry.ts';
import { compareOutput, compareRecords } from './compare.ts';
import { differsOnlyByClock, nangoRequestTarget, type NangoFixture } from '../../../testing/nango-fixture.ts';
import { startReplayServer, type ReplayMiss, type ReplayServer } from './replay-server.ts';

export interface CorpusCase {
  /** `<provider>.<name>`: also the bearer token its connection sends. */
  id: string;
  provider: string;
  name: string;
  kind: 'sync' | 'action';
  entryPath: string;
  fixture: NangoFixture;
}

/** `testing` is ferry/testing against the replay server; `fixture` is ferry/testing replaying the `*.test.json` itself, with no server. */
export const PATHS = ['compile', 'testing', 'fixture', 'dryrun', 'host'] as const;
export type PathName = (typeof PATHS)[number];
/** null: passed; a string: why it failed (or, starting with UNREPLAYABLE, why no replay can pass it). */
export type CaseResult = { case: CorpusCase; paths: Record<PathName, string | null> };
export const UNREPLAYABLE = 'unreplayable: ';

export interface CorpusRunOptions {
  /** The scripts directory (`<provider>/{syncs,actions}/<name>.ts`) holding exactly the cases' scripts. */
  dir: string;
  cases: CorpusCase[];
  /** Provider entries (as for PUT /providers/:name); auth is the replay server's bearer token, base_url the server's unless given as a template with `{port}`. */
  providers?: Record<string, Record<string, unknown>>;
  onProgress?: (message: string) => void;
}

const connectionOf = (c: CorpusCase) => {
  const recorded = c.fixture.nango.getConnection ?? {};
  const metadata = (c.fixture.nango.getMetadata ?? recorded['metadata'] ?? null) as Record<string, unknown> | null;
  const config = (recorded['connection_config'] ?? {}) as Record<string, unknown>;
  return { metadata, config };
};

function outcome(c: CorpusCase, result: { ok: boolean; error?: { message: string } | undefined; output?: unknown }, recordsOf: (model: string) => unknown[], misses: ReplayMiss[]): string | null {
  if (!result.ok) {
    const clocked = misses.find((m) => differsOnlyByClock(c.fixture, m));
    if (clocked) return `${UNREPLAYABLE}the script asks relative to the clock (${clocked.method} ${clocked.path}?${new URLSearchParams(clocked.params)}), unlike when it was recorded`;
    const elsewhere = /baseUrlOverride (\S+) is not one of the provider's origins/.exec(result.error?.message ?? '');
    if (elsewhere) return `${UNREPLAYABLE}the script calls ${elsewhere[1]} itself (baseUrlOverride), which a local replay cannot stand in for`;
  }
  const missed = misses.length > 0 ? ` (asked for ${misses.map((m) => `${m.method} ${m.path}?${new URLSearchParams(m.params)}`).join(', ').slice(0, 300)} that the fixture has no recording of)` : '';
  if (!result.ok) return `${result.error?.message ?? 'failed'}${missed}`;
  const differs = c.kind === 'sync' ? compareRecords(c.fixture, recordsOf) : compareOutput(c.fixture, result.output);
  return differs === null ? null : `${differs}${missed}`;
}

async function compilePath(cases: CorpusCase[], runtime: Runtime, results: Map<string, CaseResult>) {
  const typecheck = await typeCheckScripts(cases.map((c) => c.entryPath));
  const diagnostics = typecheck.ran ? typecheck.diagnostics : [];
  for (const c of cases) {
    const providerDir = resolve(c.entryPath, '../..');
    // An error in a helper the script imports (beside syncs/ and actions/) counts against every script of its provider.
    const own = diagnostics.filter((d) => {
      if (d.file === null) return false;
      const file = resolve(d.file);
      return file === c.entryPath || (file.startsWith(`${providerDir}/`) && !/\/(syncs|actions)\/[^/]+$/.test(file));
    });
    let failure: string | null = own.length > 0 ? own.map(formatDiagnostic).join('\n') : null;
    if (!failure) {
      try {
        const described = await runtime.describe((await bundleScript(c.entryPath)).code);
        if (!described.ok) failure = described.error.message;
        else if (described.manifest.type !== c.kind) failure = `defines a ${described.manifest.type}`;
      } catch (error) {
        failure = (error as Error).message;
      }
    }
    results.get(c.id)!.paths.compile = failure;
  }
}

async function testingPath(options: CorpusRunOptions, server: ReplayServer, results: Map<string, CaseResult>) {
  const { cases } = options;
  const tester = createScriptTester();
  try {
    for (const c of cases) {
      const { metadata, config } = connectionOf(c);
      server.clearMisses(c.id);
      try {
        const run = await tester.run({
          script: c.entryPath,
          proxy: liveProxy({ baseUrl: server.url, headers: { 'x-ferry-corpus-case': c.id } }),
          ...(c.kind === 'action' && { input: c.fixture.input ?? null }),
          metadata: metadata ?? {},
          ...(options.providers?.[c.provider]?.['pagination'] !== undefined && { pagination: options.providers[c.provider]!['pagination'] as Record<string, unknown> }),
          connection: { connection_id: c.id, provider: c.provider, connection_config: config, metadata },
        });
        results.get(c.id)!.paths.testing = outcome(c, run, (model) => run.records(model), server.misses(c.id));
      } catch (error) {
        results.get(c.id)!.paths.testing = (error as Error).message;
      }
    }
  } finally {
    await tester.close();
  }
}

/** ferry/testing replaying each case's Nango fixture itself (`tester.run({ script, fixture })`): no server, the recording's connection, metadata and input. */
async function fixturePath(options: CorpusRunOptions, results: Map<string, CaseResult>) {
  const tester = createScriptTester();
  try {
    for (const c of options.cases) {
      // The fixture's own replay, with the requests it has no recording of kept as the server keeps its misses.
      const misses: ReplayMiss[] = [];
      const replay = nangoReplayProxy(c.fixture, c.name);
      const proxy: ProxyFn = async (request) => {
        try {
          return await replay(request);
        } catch (error) {
          if (error instanceof FixtureMismatchError) misses.push({ method: request.method, ...nangoRequestTarget(request.endpoint, request.params), body: request.body });
          throw error;
        }
      };
      try {
        const run = await tester.run({
          script: c.entryPath,
          fixture: c.fixture,
          proxy,
          ...(options.providers?.[c.provider]?.['pagination'] !== undefined && { pagination: options.providers[c.provider]!['pagination'] as Record<string, unknown> }),
        });
        results.get(c.id)!.paths.fixture = outcome(c, run, (model) => run.records(model), misses);
      } catch (error) {
        results.get(c.id)!.paths.fixture = (error as Error).message;
      }
    }
  } finally {
    await tester.close();
  }
}

/** Provider entries and one connection per script; returns why a script could not be set up. */
async function setUpHost(ferry: TestFerry, options: CorpusRunOptions, server: ReplayServer): Promise<Map<string, string>> {
  const failed = new Map<string, string>();
  for (const provider of new Set(options.cases.map((c) => c.provider))) {
    // The built-in catalog's pagination defaults are what a script relies on when it names no paginate type.
    const builtin = await ferry.api.get(`/providers/${provider}`);
    const defaults = builtin.status === 200 ? { pagination: builtin.body.pagination ?? null } : {};
    // A given base_url is a template whose `{port}` is the replay server's (`http://${connectionConfig.subdomain}.localhost:{port}`).
    const given = options.providers?.[provider]?.['base_url'];
    const baseUrl = typeof given === 'string' ? given.replace('{port}', new URL(server.url).port) : server.url;
    const entry = { ...defaults, ...options.providers?.[provider], base_url: baseUrl, auth: { type: 'bearer' } };
    const put = await ferry.api.put(`/providers/${provider}`, entry);
    if (put.status !== 200) {
      for (const c of options.cases.filter((c) => c.provider === provider)) failed.set(c.id, `PUT /providers/${provider} → ${put.status}: ${JSON.stringify(put.body)}`);
    }
  }
  for (const c of options.cases) {
    const { metadata, config } = connectionOf(c);
    const created = await ferry.api.post('/connections', {
      connection_id: c.id,
      provider: c.provider,
      credentials: { type: 'bearer', token: c.id },
      connection_config: config,
      ...(metadata && { metadata }),
    });
    if (created.status >= 300 && !failed.has(c.id)) failed.set(c.id, `POST /connections ${c.id} → ${created.status}: ${JSON.stringify(created.body)}`);
  }
  return failed;
}

async function dryrunPath(ferry: TestFerry, options: CorpusRunOptions, server: ReplayServer, runtime: Runtime, results: Map<string, CaseResult>) {
  for (const c of options.cases) {
    server.clearMisses(c.id);
    try {
      const { result, models } = await dryRun({
        name: `${c.provider}/${c.name}`,
        connectionId: c.id,
        ...(c.kind === 'action' && { input: c.fixture.input ?? null }),
        dir: options.dir,
        url: ferry.url,
        key: TEST_SECRET_KEY,
        logger: createLogger({ level: 'silent' }),
        runtime,
      });
      results.get(c.id)!.paths.dryrun = outcome(c, result, (model) => [...(models.get(model)?.records.values() ?? [])], server.misses(c.id));
    } catch (error) {
      results.get(c.id)!.paths.dryrun = (error as Error).message;
    }
  }
}

async function hostPath(ferry: TestFerry, options: CorpusRunOptions, server: ReplayServer, results: Map<string, CaseResult>) {
  // A sync with autoStart may run as soon as it is deployed: its misses count from here.
  for (const c of options.cases) server.clearMisses(c.id);
  try {
    await deployScripts({ dir: options.dir, url: ferry.url, key: TEST_SECRET_KEY });
  } catch (error) {
    for (const c of options.cases) results.get(c.id)!.paths.host = `deploy: ${(error as Error).message}`;
    return;
  }
  for (const c of options.cases) {
    try {
      if (c.kind === 'action') {
        const { status, body } = await ferry.api.post(`/actions/${c.name}`, { connection_id: c.id, input: c.fixture.input ?? null });
        results.get(c.id)!.paths.host = outcome(c, status === 200 ? { ok: true, output: body.output } : { ok: false, error: { message: `${status} ${JSON.stringify(body.error)}` } }, () => [], server.misses(c.id));
        continue;
      }
      // Full: a fixture records the initial run, and an autoStart run that finished before this
      // trigger would otherwise make it an incremental run asking for what was never recorded.
      const triggered = await ferry.api.post(`/syncs/${c.name}/trigger`, { connection_id: c.id, full: true });
      if (triggered.status >= 300) throw new Error(`trigger → ${triggered.status}: ${JSON.stringify(triggered.body)}`);
      const run = await waitForRun(ferry.api, c.id, c.name, '0', 60_000);
      const held = new Map<string, unknown[]>();
      for (const model of Object.keys(c.fixture.nango.batchSave ?? {})) {
        const { records } = await readAll(ferry.api, c.id, model);
        held.set(model, records.filter((r) => r._ferry_metadata?.deleted_at == null).map(({ _ferry_metadata, ...record }) => record));
      }
      const ok = run.status === 'success' || run.status === 'succeeded';
      results.get(c.id)!.paths.host = outcome(c, { ok, error: { message: `run ${run.status}: ${JSON.stringify(run.error ?? run.error_message ?? null)}` } }, (model) => held.get(model) ?? [], server.misses(c.id));
    } catch (error) {
      results.get(c.id)!.paths.host = (error as Error).message;
    }
  }
}

/** `<customer>.localhost` (a provider's templated host) is this machine, where the replay server listens. */
const localhostLookup = ((host: string, options: unknown, callback: (...args: unknown[]) => void) => {
  if (host === 'localhost' || host.endsWith('.localhost')) {
    if (typeof options === 'object' && options !== null && (options as { all?: boolean }).all) return callback(null, [{ address: '127.0.0.1', family: 4 }]);
    return callback(null, '127.0.0.1', 4);
  }
  return (dnsLookup as (...args: unknown[]) => void)(host, options, callback);
}) as unknown as typeof dnsLookup;

export async function runCorpus(options: CorpusRunOptions): Promise<CaseResult[]> {
  const results = new Map(options.cases.map((c) => [c.id, { case: c, paths: { compile: 'not run', testing: 'not run', fixture: 'not run', dryrun: 'not run', host: 'not run' } } as CaseResult]));
  const server = await startReplayServer();
  for (const c of options.cases) server.register(c.id, c.fixture);
  const { createRuntime } = await import('@ferry/runtime');
  const runtime = createRuntime({ workers: 1, logger: createLogger({ level: 'silent' }) });
  let ferry: TestFerry | null = null;
  try {
    options.onProgress?.('compile');
    await compilePath(options.cases, runtime, results);
    options.onProgress?.('ferry/testing');
    await testingPath(options, server, results);
    options.onProgress?.('ferry/testing, the fixture itself');
    await fixturePath(options, results);
    ferry = await startTestFerry({}, { proxyLookup: localhostLookup });
    const unset = await setUpHost(ferry, options, server);
    const ready = { ...options, cases: options.cases.filter((c) => !unset.has(c.id)) };
    for (const [id, why] of unset) Object.assign(results.get(id)!.paths, { dryrun: why, host: why });
    options.onProgress?.('ferry dryrun');
    await dryrunPath(ferry, ready, server, runtime, results);
    options.onProgress?.('ferry deploy + host run');
    await hostPath(ferry, ready, server, results);
  } finally {
    await runtime.close();
    await ferry?.close();
    await server.close();
  }
  return [...results.values()];
}
