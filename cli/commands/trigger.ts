/** `ferry trigger <sync> --connection <id> [--full]`: "run now" or "full run" through the host API. */
import { z } from 'zod';
import { HOST_OPTIONS, HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { createHostClient } from '../host-client.ts';
import { createOutput } from '../output.ts';

const help = `Usage: ferry trigger <sync> --connection <connection id> [--full] [options]

Queues a run of <sync> for the connection now. With --full the run is a full refresh: it ignores
lastSyncDate and the checkpoint, and records it does not see are marked deleted when it
succeeds. If a run of the pair is already queued, that run does the work (a full run is
remembered for it).

Options:
  -c, --connection <id>  the connection
  --full                 full refresh
${HOST_OPTIONS_HELP}

Exit codes: 0 queued, 1 refused by the host, 2 usage, 4 host unreachable, 5 key refused`;

const TriggerAnswer = z.object({ queued: z.boolean(), already_queued: z.boolean(), full: z.boolean() });

export const triggerCommand: Command = {
  name: 'trigger',
  summary: 'run a sync now for a connection (--full: a full refresh)',
  help,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...HOST_OPTIONS,
      connection: { type: 'string', short: 'c' },
      full: { type: 'boolean', default: false },
    });
    const out = createOutput({ json: values.json === true });
    if (values.help) {
      out.note(help);
      return EXIT.OK;
    }
    try {
      const [sync] = positionals;
      if (!sync || positionals.length > 1) throw new UsageError('name one sync');
      if (!values.connection) throw new UsageError('--connection is required');
      const client = createHostClient(hostFrom(values, env));
      const answer = await client.request('POST', `/syncs/${encodeURIComponent(sync)}/trigger`, TriggerAnswer, { connection_id: values.connection, full: values.full });
      out.json({ sync, connection_id: values.connection, ...answer });
      out.line(`${answer.full ? 'Full run' : 'Run'} of ${sync} for ${values.connection} ${answer.already_queued ? 'was already queued' : 'queued'}.`);
      return EXIT.OK;
    } catch (error) {
      return reportError(error, out);
    }
  },
};
