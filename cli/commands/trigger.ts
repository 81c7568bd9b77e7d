/** `ferry trigger <sync> --connection <id> [--variant V] [--full]`: "run now" or "full run" through the host API. */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, SYNC_CONNECTION_OPTIONS, syncAndConnection, UsageError, type Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { createHostClient } from '../host-client.ts';
import { createOutput } from '../output.ts';
import { logsCommand } from './logs.ts';
import { RunSchema } from './runs.ts';

const help = `Usage: ferry trigger <sync> --connection <connection id> [--variant <v>] [--full] [--follow] [options]

Queues a run of <sync> for the connection now. <sync> is the sync's name (the connection's provider
decides which provider's sync of that name) or provider/name. With --full the run is a full refresh: it ignores
lastSyncDate and the checkpoint, and records it does not see are marked deleted when it
succeeds. If a run of the pair is already queued, that run does the work (a full run is
remembered for it).

Options:
  -c, --connection <id>  the connection
  --variant <variant>    the sync variant (default base; see ferry variants)
  --full                 full refresh
  -f, --follow           wait for the run to start, print its id, then its logs until it ends,
                         then how it ended: changes per model, wall/CPU time, peak heap,
                         warnings, and the error if it failed
${HOST_OPTIONS_HELP}

Exit codes: 0 queued (with --follow: the run succeeded), 1 refused by the host (with --follow:
            the run failed), 2 usage, 4 host unreachable, 5 key refused`;

const RunsSchema = z.object({ runs: z.array(RunSchema) });
/** How long --follow waits for the queued run to start before giving up (the queue may be busy). */
const START_TIMEOUT_MS = 5 * 60_000;

const TriggerAnswer = z.object({ queued: z.boolean(), already_queued: z.boolean(), full: z.boolean() });

export const triggerCommand: Command = {
  name: 'trigger',
  summary: 'run a sync now for a connection (--full: a full refresh)',
  help,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...SYNC_CONNECTION_OPTIONS,
      variant: { type: 'string' },
      full: { type: 'boolean', default: false },
      follow: { type: 'boolean', short: 'f', default: false },
    });
    const out = createOutput({ json: values.json === true });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    try {
      const { sync, connection } = syncAndConnection(positionals, values.connection);
      const host = hostFrom(values, env);
      const client = createHostClient(host);
      const variant: Record<string, string> = values.variant ? { variant: values.variant } : {};
      const runsQuery = `/runs?${new URLSearchParams({ connection_id: connection, sync, ...variant, limit: '1' })}`;
      // The newest run before the trigger: the one to follow is the first after it.
      const before = values.follow ? Number((await client.request('GET', runsQuery, RunsSchema)).runs[0]?.id ?? 0) : 0;
      const answer = await client.request('POST', `/syncs/${encodeURIComponent(sync)}/trigger`, TriggerAnswer, { connection_id: connection, ...variant, full: values.full });
      if (!values.follow) out.json({ sync, ...variant, connection_id: connection, ...answer });
      const what = values.variant ? `${sync} (variant ${values.variant})` : sync;
      out.line(`${answer.full ? 'Full run' : 'Run'} of ${what} for ${connection} ${answer.already_queued ? 'was already queued' : 'queued'}.`);
      if (!values.follow) return EXIT.OK;
      const deadline = Date.now() + START_TIMEOUT_MS;
      let runId: string | undefined;
      while (runId === undefined) {
        const newest = (await client.request('GET', runsQuery, RunsSchema)).runs[0];
        if (newest && Number(newest.id) > before) runId = String(newest.id);
        else if (Date.now() > deadline) throw new UsageError(`no run of ${sync} started within ${START_TIMEOUT_MS / 60_000} minutes (is a worker running?)`);
        else await sleep(250);
      }
      out.jsonLine({ type: 'started', sync, connection_id: connection, run_id: runId });
      out.line(`Run ${runId} started; following its logs (ferry logs ${runId}).`);
      return logsCommand.run([runId, '--follow', '--url', host.url, ...(host.key ? ['--key', host.key] : []), ...(values.json ? ['--json'] : [])], env);
    } catch (error) {
      return reportError(error, out);
    }
  },
};
