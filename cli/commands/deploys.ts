/**
 * `ferry deploys`: the environment's deploy versions, newest first, the active one marked.
 * `ferry rollback <version>`: makes the scripts that version left active the active set again,
 * as a new version (history is never rewritten).
 */
import { z } from 'zod';
import { HOST_OPTIONS, HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { createHostClient } from '../host-client.ts';
import { createOutput } from '../output.ts';
import { formatTable } from '../table.ts';

const DeploysSchema = z.object({
  deploys: z.array(z.object({ version: z.number(), created_at: z.string(), rollback_of: z.number().nullable(), active: z.boolean(), scripts: z.number() })),
});
const RollbackSchema = z.object({
  version: z.number(),
  rollback_of: z.number().nullable(),
  scripts: z.array(z.object({ name: z.string(), kind: z.string(), status: z.string() })),
});

const deploysHelp = `Usage: ferry deploys [options]

Lists the deploy versions of the environment, newest first: when, how many scripts it left
active, whether it was a rollback, and which one is active. Undo one with ferry rollback.

Options:
${HOST_OPTIONS_HELP}

Exit codes: 0 listed, 1 refused by the host, 2 usage, 4 host unreachable, 5 key refused`;

export const deploysCommand: Command = {
  name: 'deploys',
  summary: 'list deploy versions, newest first (the active one marked)',
  help: deploysHelp,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, HOST_OPTIONS);
    const out = createOutput({ json: values.json === true });
    if (values.help) {
      out.help(deploysHelp);
      return EXIT.OK;
    }
    try {
      if (positionals.length > 0) throw new UsageError('deploys takes no arguments');
      const { deploys } = await createHostClient(hostFrom(values, env)).request('GET', '/deploys', DeploysSchema);
      out.json({ deploys });
      if (deploys.length === 0) {
        out.line('Nothing deployed yet (ferry deploy).');
        return EXIT.OK;
      }
      out.line(formatTable(deploys.map((d) => ({
        version: d.version, active: d.active ? '*' : '', created_at: d.created_at, scripts: d.scripts, rollback_of: d.rollback_of ?? '',
      }))));
      return EXIT.OK;
    } catch (error) {
      return reportError(error, out);
    }
  },
};

const rollbackHelp = `Usage: ferry rollback <version> [options]

Makes the scripts deploy <version> left active the active set again. The rollback is itself a
new version (ferry deploys lists it with rollback_of), so it can be undone the same way.

Options:
${HOST_OPTIONS_HELP}

Exit codes: 0 rolled back, 1 refused by the host (unknown version), 2 usage, 4 host unreachable, 5 key refused`;

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'make an earlier deploy version active again (as a new version)',
  help: rollbackHelp,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, HOST_OPTIONS);
    const out = createOutput({ json: values.json === true });
    if (values.help) {
      out.help(rollbackHelp);
      return EXIT.OK;
    }
    try {
      const [version, ...extra] = positionals;
      if (version === undefined || extra.length > 0 || !/^[1-9]\d*$/.test(version)) throw new UsageError('give one deploy version: ferry rollback <version> (see ferry deploys)');
      const result = await createHostClient(hostFrom(values, env)).request('POST', `/deploys/${version}/rollback`, RollbackSchema);
      out.json({ ok: true, ...result });
      out.line(`Rolled back to version ${result.rollback_of ?? version}: now version ${result.version}.`);
      for (const s of result.scripts.filter((c) => c.status !== 'unchanged')) out.line(`  ${s.status.padEnd(9)} ${s.kind.padEnd(6)} ${s.name}`);
      return EXIT.OK;
    } catch (error) {
      return reportError(error, out);
    }
  },
};
