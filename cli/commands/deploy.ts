/** `ferry deploy`: bundle every script and send the set to the host. */
import { deployScripts } from '../deploy.ts';
import { EXIT } from '../exit-codes.ts';
import { createOutput } from '../output.ts';
import { HOST_OPTIONS, HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';

const help = `Usage: ferry deploy [--dir scripts] [options]

Bundles every script under <dir>/<provider>/{syncs,actions}/<name>.ts and deploys them to the
host as one new version. Scripts whose bundle did not change are reported as unchanged.

Options:
  --dir <path>     scripts directory (default: scripts)
${HOST_OPTIONS_HELP}

Exit codes: 0 deployed, 1 refused by the host, 2 usage, 3 a script did not bundle,
            4 host unreachable or failing, 5 key refused`;

export const deployCommand: Command = {
  name: 'deploy',
  summary: 'bundle all scripts and deploy them to the host',
  help,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, { ...HOST_OPTIONS, dir: { type: 'string', default: 'scripts' } });
    const out = createOutput({ json: values.json });
    if (values.help) {
      out.note(help);
      return EXIT.OK;
    }
    try {
      if (positionals.length > 0) throw new UsageError(`deploy takes no arguments (got ${positionals.join(' ')})`);
      const host = hostFrom(values, env);
      const result = await deployScripts({
        dir: values.dir,
        ...host,
        onProgress(event) {
          if (event.type === 'bundled') {
            out.note(`  bundled ${event.script.provider}/${event.script.kind}s/${event.script.name}  ${(event.bytes / 1024).toFixed(1)} KB  ${event.hash.slice(0, 12)}  ${Math.round(event.ms)} ms`);
          } else if (event.type === 'failed') {
            out.note(`  FAILED  ${event.script.provider}/${event.script.kind}s/${event.script.name}  ${event.error.code}`);
          } else {
            out.note(`  uploading ${event.count} script(s), ${(event.bytes / 1024).toFixed(1)} KB to ${host.url}`);
          }
        },
      });
      const changed = result.scripts.filter((s) => s.status !== 'unchanged');
      out.line(changed.length === 0 ? `Nothing changed (version ${result.version}).` : `Deployed version ${result.version}:`);
      for (const script of result.scripts) out.line(`  ${script.status.padEnd(9)} ${script.kind.padEnd(6)} ${script.name}`);
      out.json({ ok: true, ...result });
      return EXIT.OK;
    } catch (error) {
      return reportError(error, out);
    }
  },
};
