/**
 * `ferry compile`: everything a deploy would check, without a host. Type-checks every script,
 * bundles it, and reads its definition in the real runtime (so a bad frequency or a sync in
 * actions/ is caught here, not at deploy time).
 */
import { createLogger } from '@ferry/host/logger';
import { formatLocation, type SourceLocation } from '@ferry/runtime/contract';
import { locateRunError, readSourceMap } from '@ferry/runtime/source-map';
import { BundleError } from '../bundle.ts';
import { HOST_OPTIONS, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';
import { bundleAll, DeployError } from '../deploy.ts';
import { discoverScripts } from '../discover.ts';
import { EXIT } from '../exit-codes.ts';
import { createOutput } from '../output.ts';
import { formatDiagnostic, typeCheckScripts } from '../typecheck.ts';
import { defaultScriptsDir } from '../scripts-dir.ts';

const help = `Usage: ferry compile [--dir scripts] [--no-typecheck] [--json]

Type-checks and bundles every script under <dir>/<provider>/{syncs,actions}/<name>.ts and reads
each definition in the runtime. Errors name file:line:col and how to fix them.

Options:
  --dir <path>     scripts directory (default: scripts, or . in a Nango project's layout)
  --no-typecheck   only bundle and read definitions
  --json           print the result as JSON on stdout
  -h, --help       show this help

Exit codes: 0 every script compiles, 2 usage or no scripts, 3 a script has errors`;

export const compileCommand: Command = {
  name: 'compile',
  summary: 'type-check and bundle every script, with errors at file:line',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      json: HOST_OPTIONS.json,
      help: HOST_OPTIONS.help,
      dir: { type: 'string' },
      'no-typecheck': { type: 'boolean', default: false },
    });
    const out = createOutput({ json: values.json });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    try {
      if (positionals.length > 0) throw new UsageError(`compile takes no arguments (got ${positionals.join(' ')})`);
      const dir = values.dir ?? defaultScriptsDir();
      const scripts = await discoverScripts(dir);
      if (scripts.length === 0) throw new UsageError(`no scripts found under ${dir} (expected <provider>/syncs/<name>.ts or <provider>/actions/<name>.ts)`);

      const typecheck = values['no-typecheck'] ? { ran: false as const, reason: '--no-typecheck' } : await typeCheckScripts(scripts.map((s) => s.entryPath));
      if (!typecheck.ran) out.note(`  type-check skipped: ${typecheck.reason}`);
      else if (typecheck.diagnostics.length > 0) {
        for (const d of typecheck.diagnostics) out.error(formatDiagnostic(d));
        out.note(`${typecheck.diagnostics.length} type error(s) in ${scripts.length} script(s)`);
        out.json({ ok: false, stage: 'typecheck', diagnostics: typecheck.diagnostics });
        return EXIT.BUNDLE;
      } else out.note(`  type-checked ${scripts.length} script(s)`);

      const bundled = await bundleAll(dir, {
        onProgress: (e) => {
          if (e.type === 'bundled') out.note(`  bundled ${e.script.provider}/${e.script.kind}s/${e.script.name}  ${(e.bytes / 1024).toFixed(1)} KB`);
        },
      });

      const { createRuntime } = await import('@ferry/runtime');
      const { parseFrequency } = await import('@ferry/host/frequency');
      const runtime = createRuntime({ workers: 1, logger: createLogger({ name: 'ferry-cli', level: 'silent', destination: process.stderr }) });
      const problems: Array<{ file: string; code?: string; message: string; location?: SourceLocation }> = [];
      const manifests: Array<{ name: string; provider: string; kind: string; models: string[] }> = [];
      try {
        for (const bundle of bundled) {
          const described = await runtime.describe(bundle.code);
          if (!described.ok) {
            // A top level that throws is named where it threw; a module without a definition gets the fix.
            const located = locateRunError(described.error, readSourceMap(bundle.sourceMap));
            const hint = located.code === 'BAD_SCRIPT' ? ' (the module must `export default createSync({...})` or `createAction({...})`)' : '';
            // Printed as scriptLoadProblem words it on the other paths: file:line:col: CODE: message.
            problems.push({ file: located.location ? formatLocation(located.location) : bundle.entryPath, code: located.code, message: `${located.code}: ${located.message}${hint}`, ...(located.location && { location: located.location }) });
            continue;
          }
          const { manifest } = described;
          if (manifest.type !== bundle.kind) problems.push({ file: bundle.entryPath, message: `sits in ${bundle.kind}s/ but defines a ${manifest.type}: move it to ${manifest.type}s/` });
          if (manifest.type === 'sync') {
            try {
              parseFrequency(manifest.frequency);
            } catch (error) {
              problems.push({ file: bundle.entryPath, message: `frequency: ${(error as Error).message}` });
            }
          }
          manifests.push({ name: bundle.name, provider: bundle.provider, kind: manifest.type, models: manifest.models ?? [] });
        }
      } finally {
        await runtime.close();
      }
      if (problems.length > 0) {
        for (const p of problems) out.error(`${p.file}: ${p.message}`);
        out.json({ ok: false, stage: 'definition', problems });
        return EXIT.BUNDLE;
      }
      out.line(`${bundled.length} script(s) compile:`);
      for (const m of manifests) out.line(`  ${m.kind.padEnd(6)} ${m.provider}/${m.name}${m.models.length > 0 ? `  → ${m.models.join(', ')}` : ''}`);
      out.json({ ok: true, typechecked: typecheck.ran, scripts: manifests });
      return EXIT.OK;
    } catch (error) {
      if (error instanceof DeployError && error.code === 'BUNDLE_FAILED') {
        for (const { error: cause } of error.failures) out.error(cause.message);
        out.json({ ok: false, stage: 'bundle', failures: error.failures.map((f) => ({ name: f.script.name, code: f.error.code, details: f.error.details })) });
        return EXIT.BUNDLE;
      }
      if (error instanceof BundleError) return reportError(error, out);
      return reportError(error, out);
    }
  },
};
