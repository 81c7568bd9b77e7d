/** `ferry deploy`: bundle every script, show what would change, and send the set to the host. */
import { createInterface } from 'node:readline/promises';
import { createLogger } from '@ferry/host/logger';
import { HOST_OPTIONS, HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';
import { BundleError } from '../bundle.ts';
import { discoverScripts, type DiscoveredScript } from '../discover.ts';
import { bundleAll, bundleEach, DeployError, uploadBundles, type BundledScript, type DeployProgress } from '../deploy.ts';
import { keepRemoved, planDeploy, type DeployPlan } from '../deploy-plan.ts';
import { EXIT } from '../exit-codes.ts';
import { HostApiError } from '../host-client.ts';
import { createOutput, type Output } from '../output.ts';
import { defaultScriptsDir } from '../scripts-dir.ts';
import { formatDiagnostic, typeCheckScripts } from '../typecheck.ts';

const help = `Usage: ferry deploy [--dir scripts] [--yes] [--prune] [--dry-run] [--partial] [--no-typecheck] [options]

Type-checks (as ferry compile does) and bundles every script under
<dir>/<provider>/{syncs,actions}/<name>.ts, shows what would change
on the host (new, changed and removed scripts, models added or dropped) and deploys them as one
new version. Deploying the same bundles again changes nothing (idempotent by content hash).

Asks for confirmation on a terminal; in scripts and CI (stdin not a TTY, or --json) it applies
without asking. Scripts deployed on the host that this project does not have (the demo's, or
another checkout's) are removed only with consent: --prune, --yes, or yes at the prompt.
Without it they stay deployed as they are, and deploy names them.

Options:
  --dir <path>     scripts directory (default: scripts, or . in a Nango project's layout)
  -y, --yes        apply without asking (removing scripts this project does not have)
  --prune          remove deployed scripts this project does not have (a terminal still asks
                   before applying the rest)
  --dry-run        show the changes and stop
  --partial        deploy every script that type-checks, bundles and that the host accepts;
                   each one that fails is named (file and message) and keeps the version
                   deployed before, if any. Without it, one failing script deploys nothing.
  --no-typecheck   deploy without type-checking (a type error then shows only when it runs)
${HOST_OPTIONS_HELP}

Exit codes: 0 deployed (or previewed), 1 refused by the host, 2 usage, 3 a script has type
            errors or did not bundle (with --partial: none bundled), 4 host unreachable or
            failing, 5 key refused, 6 declined at the prompt, 8 partial: deployed, but some scripts failed (--partial)`;

function progressPrinter(out: Output, url: string) {
  return (event: DeployProgress) => {
    if (event.type === 'bundled') {
      out.note(`  bundled ${event.script.provider}/${event.script.kind}s/${event.script.name}  ${(event.bytes / 1024).toFixed(1)} KB  ${event.hash.slice(0, 12)}  ${Math.round(event.ms)} ms`);
    } else if (event.type === 'failed') {
      out.note(`  FAILED  ${event.script.provider}/${event.script.kind}s/${event.script.name}  ${event.error.code}`);
    } else {
      out.note(`  uploading ${event.count} script(s), ${(event.bytes / 1024).toFixed(1)} KB to ${url}`);
    }
  };
}

const scriptPath = (s: { provider: string; kind: string; name: string }) => `${s.provider}/${s.kind}s/${s.name}`;

function printPlan(out: Output, plan: DeployPlan): void {
  const kept = plan.scripts.filter((s) => s.status === 'kept');
  if (kept.length > 0) {
    out.line(`Kept (deployed, not in this project; ferry deploy --prune removes them): ${kept.map(scriptPath).join(', ')}`);
  }
  const changes = plan.scripts.filter((s) => s.status !== 'unchanged' && s.status !== 'kept');
  if (changes.length === 0) {
    out.line('No changes: every script is deployed as it is.');
    return;
  }
  out.line('Changes:');
  for (const s of changes) {
    const models = [...s.addedModels.map((m) => `+${m}`), ...s.removedModels.map((m) => `-${m}`)].join(' ');
    const deletes = s.detectsDeletes === undefined || s.status === 'removed' ? '' : s.detectsDeletes ? '  deletes unseen records on full runs (trackDeletes)' : '  deletes only via batchDelete/trackDeletesStart-End';
    out.line(`  ${s.status.padEnd(9)} ${s.kind.padEnd(6)} ${s.provider}/${s.name}${models ? `  models ${models}` : ''}${deletes}`);
  }
  const unchanged = plan.scripts.length - changes.length - kept.length;
  if (unchanged > 0) out.line(`  (${unchanged} unchanged)`);
  if (plan.removedModels.length > 0) out.line(`Models no script writes any more: ${plan.removedModels.join(', ')} (their records stay readable)`);
  if (plan.addedModels.length > 0) out.line(`New models: ${plan.addedModels.join(', ')}`);
  if (changes.some((s) => s.status === 'removed' && s.kind === 'sync')) out.line('Removed syncs stop running for every connection.');
  for (const w of plan.warnings) out.line(`Warning: ${w.message}`);
}

/** A script a partial deploy leaves out, as reported: its file and why. */
const reportedFailure = (f: DeployError['failures'][number]) => ({ file: f.script.entryPath, provider: f.script.provider, name: f.script.name, message: f.error.message });

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

async function preview(bundled: BundledScript[], host: { url: string; key: string | undefined }, kept: DiscoveredScript[]): Promise<DeployPlan | null> {
  const { createRuntime } = await import('@ferry/runtime');
  const runtime = createRuntime({ workers: 1, logger: createLogger({ name: 'ferry-cli', level: 'silent', destination: process.stderr }) });
  try {
    return await planDeploy(bundled, { ...host, runtime, kept });
  } catch (error) {
    // A host without GET /scripts: deploy still works, only the preview is missing.
    if (error instanceof HostApiError && error.status === 404) return null;
    throw error;
  } finally {
    await runtime.close();
  }
}

/**
 * Type-checks every script as `ferry compile` does, before anything is bundled or sent. With
 * errors: without `partial`, prints them and answers 'failed' (nothing is deployed); with it,
 * answers the scripts whose own files (or what they import) have errors, each with its errors,
 * for the deploy to leave out. Null when there is nothing to refuse.
 */
async function typeCheck(out: Output, dir: string, partial: boolean): Promise<'failed' | Map<string, BundleError> | null> {
  const scripts = await discoverScripts(dir);
  if (scripts.length === 0) return null;
  const result = await typeCheckScripts(scripts.map((s) => s.entryPath));
  if (!result.ran) {
    out.note(`  type-check skipped: ${result.reason}`);
    return null;
  }
  if (result.diagnostics.length === 0) {
    out.note(`  type-checked ${scripts.length} script(s)`);
    return null;
  }
  if (!partial) {
    for (const d of result.diagnostics) out.error(formatDiagnostic(d));
    out.note(`${result.diagnostics.length} type error(s) in ${scripts.length} script(s): nothing was deployed. Fix them (ferry compile checks without deploying), or deploy without checking with --no-typecheck.`);
    out.json({ ok: false, stage: 'typecheck', diagnostics: result.diagnostics });
    return 'failed';
  }
  const refused = new Map<string, BundleError>();
  for (const script of scripts) {
    const own = result.diagnosticsOf(script.entryPath);
    if (own.length > 0) refused.set(script.entryPath, new BundleError('TYPE_ERROR', `${own.length} type error(s)`, own.map(formatDiagnostic)));
  }
  return refused;
}

export const deployCommand: Command = {
  name: 'deploy',
  summary: 'bundle all scripts, show the changes and deploy them to the host',
  help,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...HOST_OPTIONS,
      dir: { type: 'string' },
      yes: { type: 'boolean', short: 'y', default: false },
      'dry-run': { type: 'boolean', default: false },
      partial: { type: 'boolean', default: false },
      prune: { type: 'boolean', default: false },
      'no-typecheck': { type: 'boolean', default: false },
    });
    const out = createOutput({ json: values.json });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    try {
      // `nango deploy <environment>`: in Ferry an environment is a host (or its key), not an argument.
      if (positionals.length > 0) throw new UsageError(`deploy takes no arguments (got ${positionals.join(' ')}): it deploys to the host --url / FERRY_URL names, with --key / FERRY_SECRET_KEY; to deploy to another environment (nango deploy <environment>), point those at that environment's host or key`);
      const host = hostFrom(values, env);
      const onProgress = progressPrinter(out, host.url);
      const dir = values.dir ?? defaultScriptsDir();
      const checked = values['no-typecheck'] ? null : await typeCheck(out, dir, values.partial);
      if (checked === 'failed') return EXIT.BUNDLE;
      const refused = checked ?? undefined;
      const { bundled, failures } = values.partial ? await bundleEach(dir, { onProgress, ...(refused && { refused }) }) : { bundled: await bundleAll(dir, { onProgress }), failures: [] };
      if (bundled.length === 0) throw new DeployError('BUNDLE_FAILED', `none of the ${failures.length} script(s) bundled; nothing was deployed`, failures);
      const interactive = process.stdin.isTTY === true && !values.json && !values.yes;
      const previewed = await preview(bundled, host, failures.map((f) => f.script));
      // Removing what the project lacks needs consent: a flag, or the prompt below (which lists it).
      const plan = previewed && !values.prune && !values.yes && !interactive ? keepRemoved(previewed) : previewed;
      const kept = plan?.scripts.filter((s) => s.status === 'kept') ?? [];
      if (plan) printPlan(out, plan);
      else out.note('  (this host cannot preview changes; deploying directly)');
      if (failures.length > 0) out.line(`Left out (${failures.length} did not type-check or bundle; a version deployed before stays active): ${failures.map((f) => f.script.entryPath).join(', ')}`);
      if (values['dry-run']) {
        out.json({ ok: true, dry_run: true, plan, failed: failures.map(reportedFailure), kept: kept.map(({ provider, kind, name }) => ({ provider, kind, name })) });
        return EXIT.OK;
      }
      const removing = plan?.scripts.filter((s) => s.status === 'removed').length ?? 0;
      const question = removing > 0 ? `Deploy these changes, removing ${removing} script(s) this project does not have?` : 'Deploy these changes?';
      if (interactive && plan && !plan.empty && !(await confirm(question))) {
        out.line('Nothing deployed.');
        return EXIT.DECLINED;
      }
      const result = await uploadBundles(bundled, { ...host, onProgress, keep: kept, ...(values.partial && { partial: { keep: failures.map((f) => f.script) } }) });
      const changed = result.scripts.filter((s) => s.status !== 'unchanged');
      out.line(changed.length === 0 ? `Nothing changed (version ${result.version}).` : `Deployed version ${result.version}:`);
      for (const script of changed) out.line(`  ${script.status.padEnd(9)} ${script.kind.padEnd(6)} ${script.provider ? `${script.provider}/` : ''}${script.name}`);
      if (!plan) for (const w of result.warnings) out.line(`Warning: ${w.message}`);
      const failed = [
        ...failures.map(reportedFailure),
        ...(result.failed ?? []).map((f) => ({ file: bundled.find((b) => b.provider === f.provider && b.name === f.name)?.entryPath ?? null, ...f })),
      ];
      if (failed.length > 0) {
        out.line(`Not deployed (${failed.length} failed; a version deployed before stays active):`);
        for (const f of failed) out.line(`  ${f.file ?? `${f.provider}/${f.name}`}: ${f.message.replaceAll('\n', '\n    ')}`);
      }
      if (kept.length > 0) out.line(`Kept ${kept.length} deployed script(s) this project does not have (ferry deploy --prune removes them).`);
      out.json({ ok: failed.length === 0, ...result, failed, kept: kept.map(({ provider, kind, name }) => ({ provider, kind, name })), plan });
      return failed.length === 0 ? EXIT.OK : EXIT.PARTIAL;
    } catch (error) {
      return reportError(error, out);
    }
  },
};
