/** `ferry logs <run>`: a run's logs; `--follow` keeps printing them until the run finishes. */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { HOST_OPTIONS, HOST_OPTIONS_HELP, hostFrom, parseCommandArgs, reportError, UsageError, type Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { createHostClient } from '../host-client.ts';
import { createOutput } from '../output.ts';
import { formatOutcome, outcomeEvent } from '../run-outcome.ts';
import { RunSchema } from './runs.ts';

const help = `Usage: ferry logs <run-id> [--follow] [options]

Prints a run's logs (what the script logged, with console.* captured). With --follow, keeps
printing new lines until the run finishes, then prints how it ended: its changes per model
(added/updated/deleted), wall and CPU time, peak heap, warnings, and the error if it failed.

Options:
  -f, --follow     wait for new lines until the run has finished
  --interval <ms>  how often --follow polls (default 500)
${HOST_OPTIONS_HELP}
  (--json prints one JSON object per line)

Exit codes: 0 printed (with --follow: the run succeeded), 1 the run failed or the host refused,
            2 usage, 4 host unreachable, 5 key refused`;

const LogsSchema = z.object({
  logs: z.array(z.object({ seq: z.number(), level: z.string(), message: z.string(), at: z.union([z.string(), z.date()]).transform(String) })),
  next_after: z.number(),
});

export const logsCommand: Command = {
  name: 'logs',
  summary: "print a run's logs (--follow until it finishes)",
  help,
  async run(argv, env) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...HOST_OPTIONS,
      follow: { type: 'boolean', short: 'f', default: false },
      interval: { type: 'string', default: '500' },
    });
    const out = createOutput({ json: values.json });
    if (values.help) {
      out.help(help);
      return EXIT.OK;
    }
    try {
      const [runId, ...extra] = positionals;
      if (!runId || extra.length > 0 || !/^\d+$/.test(runId)) throw new UsageError('give one run id (a number, from ferry runs): ferry logs <run-id>');
      const interval = Number(values.interval);
      if (!Number.isInteger(interval) || interval < 50) throw new UsageError('--interval must be an integer of at least 50 (ms)');
      const client = createHostClient(hostFrom(values, env));
      let after = -1;
      const drain = async () => {
        for (;;) {
          const page = await client.request('GET', `/runs/${runId}/logs?after=${after}&limit=1000`, LogsSchema);
          for (const entry of page.logs) {
            out.jsonLine({ type: 'log', ...entry });
            out.line(`${new Date(entry.at).toISOString().slice(11, 23)} ${entry.level.padEnd(5)} ${entry.message}`);
          }
          after = page.next_after;
          if (page.logs.length < 1000) return;
        }
      };
      for (;;) {
        // Read the status before draining: lines written before the run finished are then all there.
        const run = await client.request('GET', `/runs/${runId}`, RunSchema);
        await drain();
        const finished = run.status !== 'running' && run.status !== 'queued';
        if (!values.follow || finished) {
          if (values.follow || finished) {
            out.jsonLine(outcomeEvent(run));
            for (const line of formatOutcome(run)) out.note(line);
          }
          return values.follow && run.status !== 'succeeded' ? EXIT.FAILED : EXIT.OK;
        }
        await sleep(interval);
      }
    } catch (error) {
      return reportError(error, out);
    }
  },
};
