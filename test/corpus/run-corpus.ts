/**
 * `npm run corpus -- <path-to-integration-templates-checkout> [--only p/name,...] [--max 60]`
 *
 * Runs real Nango scripts with their recorded fixtures (`<provider>/tests/<name>.test.json`)
 * through compile, ferry/testing, ferry dryrun and ferry deploy + a host run, each against a
 * local HTTP server replaying the fixture, and prints a pass/fail table. Needs the PostgreSQL
 * of `npm test` (FERRY_TEST_DATABASE_URL). Exits 1 when any script fails any path.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findScriptsWithFixtures } from './harness/cases.ts';
import { readNangoFixture } from '../../testing/nango-fixture.ts';
import { pickScripts } from './harness/pick.ts';
import { printReport } from './harness/report.ts';
import { runCorpus, type CorpusCase } from './harness/run-paths.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { only: { type: 'string' }, providers: { type: 'string' }, max: { type: 'string', default: '60' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help || positionals.length !== 1) {
  process.stdout.write('Usage: npm run corpus -- <integration-templates checkout> [--only provider/name,provider,...] [--max 60] [--providers entries.json]\n');
  process.exit(values.help ? 0 : 2);
}

const checkout = resolve(positionals[0]!);
const root = existsSync(join(checkout, 'integrations')) ? join(checkout, 'integrations') : checkout;
const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
const max = Number(values.max);
/** Provider entries (as for PUT /providers/:name, e.g. pagination defaults) for providers the built-in catalog lacks. */
const providers = values.providers ? (JSON.parse(readFileSync(values.providers, 'utf8')) as Record<string, Record<string, unknown>>) : {};

const selected = (await findScriptsWithFixtures(root)).filter((c) => !only || only.includes(c.provider) || only.includes(`${c.provider}/${c.name}`));
const chosen = pickScripts(selected, max);
if (chosen.length === 0) {
  process.stderr.write(`no script with a tests/<name>.test.json fixture under ${root}\n`);
  process.exit(2);
}

// A scripts directory with just the chosen scripts and their providers' shared files (models, helpers).
const dir = await mkdtemp(join(tmpdir(), 'ferry-corpus-'));
try {
  for (const provider of new Set(chosen.map((c) => c.provider))) {
    await cp(join(root, provider), join(dir, provider), {
      recursive: true,
      filter: (source) => !/\/(syncs|actions|tests|mocks|\.nango)(\/|$)/.test(source.slice(join(root, provider).length)),
    });
  }
  const cases: CorpusCase[] = [];
  for (const c of chosen) {
    const entryPath = join(dir, c.provider, `${c.kind}s`, `${c.name}.ts`);
    await cp(c.file, entryPath);
    cases.push({ id: `${c.provider}.${c.name}`, provider: c.provider, name: c.name, kind: c.kind, entryPath, fixture: await readNangoFixture(c.fixture) });
  }
  process.stderr.write(`${cases.length} script(s) of ${new Set(cases.map((c) => c.provider)).size} provider(s) from ${root}\n`);
  const results = await runCorpus({ dir, cases, providers, onProgress: (path) => process.stderr.write(`… ${path}\n`) });
  process.exitCode = printReport(results, process.stdout) ? 0 : 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}
