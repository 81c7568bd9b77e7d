/** What every CLI command shares: its shape, the host options, and turning errors into exit codes. */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { BundleError } from './bundle.ts';
import { DeployError } from './deploy.ts';
import { findDevHost } from './dev-lock.ts';
import { DryRunError } from './dryrun.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { DEFAULT_HOST_URL, HostApiError } from './host-client.ts';
import type { Output } from './output.ts';

export interface Command {
  name: string;
  summary: string;
  help: string;
  run(argv: string[], env: NodeJS.ProcessEnv): Promise<ExitCode>;
}

export class UsageError extends Error {}

export const HOST_OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsOptionsConfig;

export const HOST_OPTIONS_HELP = `  --url <url>      host API (default: $FERRY_URL, else the ferry dev running on this
                   folder's .ferry, else ${DEFAULT_HOST_URL})
  --key <key>      secret key sent as a bearer token (default: $FERRY_SECRET_KEY, else that
                   ferry dev's key)
  --json           print the result as JSON on stdout
  -h, --help       show this help`;

/** The host options and `--connection`, for commands about one sync of one connection (`<sync> --connection <id>`). */
export const SYNC_CONNECTION_OPTIONS = {
  ...HOST_OPTIONS,
  connection: { type: 'string', short: 'c' },
} as const satisfies ParseArgsOptionsConfig;

/** The one sync named and the connection given, or a UsageError saying which is missing. */
export function syncAndConnection(positionals: string[], connection: string | undefined): { sync: string; connection: string } {
  const [sync] = positionals;
  if (!sync || positionals.length > 1) throw new UsageError('name one sync');
  if (!connection) throw new UsageError('--connection is required');
  return { sync, connection };
}

export function parseCommandArgs<O extends ParseArgsOptionsConfig>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** --url/--key, else FERRY_URL/FERRY_SECRET_KEY, else the `ferry dev` running on this project's data folder, else the default URL. */
export function hostFrom(values: { url?: string | undefined; key?: string | undefined }, env: NodeJS.ProcessEnv) {
  const url = values.url ?? env['FERRY_URL'];
  const key = values.key ?? env['FERRY_SECRET_KEY'];
  const dev = url === undefined ? findDevHost(env) : null;
  return { url: url ?? dev?.url ?? DEFAULT_HOST_URL, key: key ?? dev?.key };
}

const KEY_HINT = 'use the key the host printed at start (ferry dev and ferry start print an `export FERRY_URL=… FERRY_SECRET_KEY=…` line to paste), or pass --key';

/** Prints an error the way a user can act on it and picks the exit code that names its cause. */
export function reportError(error: unknown, out: Output): ExitCode {
  if (error instanceof UsageError) {
    out.error(error.message);
    return EXIT.USAGE;
  }
  if (error instanceof BundleError) {
    out.error(error.message);
    out.json({ ok: false, error: { code: error.code, message: error.message, details: error.details } });
    return EXIT.BUNDLE;
  }
  if (error instanceof DeployError) {
    out.error(error.message);
    for (const { error: cause } of error.failures) out.note(cause.message);
    out.json({ ok: false, error: { code: error.code, message: error.message, failures: error.failures.map((f) => ({ name: f.script.name, code: f.error.code, details: f.error.details })) } });
    return error.code === 'NO_SCRIPTS' ? EXIT.USAGE : EXIT.BUNDLE;
  }
  if (error instanceof DryRunError) {
    out.error(error.message);
    out.json({ ok: false, error: { code: error.code, message: error.message, ...(error.location && { location: error.location }) } });
    return error.code === 'BAD_SCRIPT' || error.code === 'SCRIPT_LOAD_ERROR' ? EXIT.BUNDLE : EXIT.USAGE;
  }
  if (error instanceof HostApiError) {
    out.error(`${error.message}${error.status ? ` (HTTP ${error.status}, ${error.code})` : ''}`);
    for (const issue of error.issues ?? []) out.note(`  ${JSON.stringify(issue)}`);
    out.json({ ok: false, error: { status: error.status, code: error.code, message: error.message, issues: error.issues } });
    if (error.status === 401 || error.status === 403) {
      out.note(`The host refused the key: ${KEY_HINT}.`);
      return EXIT.AUTH;
    }
    return error.status === 0 || error.status >= 500 ? EXIT.HOST : EXIT.FAILED;
  }
  throw error;
}
