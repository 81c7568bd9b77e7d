/** The CLI's user-facing output: the one place that writes to stdout/stderr. */
import type { Writable } from 'node:stream';

export interface Output {
  /** A line for the user (stdout). Suppressed in --json mode so stdout stays parseable. */
  line(text?: string): void;
  /** A help text the user asked for (stdout, in both modes: `ferry x --help | less` works). */
  help(text: string): void;
  /** Progress and diagnostics (stderr), shown in both modes. */
  note(text: string): void;
  error(text: string): void;
  /** The command's machine-readable result (stdout), in --json mode only. */
  json(value: unknown): void;
  /** One event of a long-running command as a single JSON line (stdout), in --json mode only. */
  jsonLine(value: unknown): void;
  readonly jsonMode: boolean;
}

export function createOutput(options: { json: boolean; stdout?: Writable; stderr?: Writable }): Output {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  return {
    jsonMode: options.json,
    line(text = '') {
      if (!options.json) stdout.write(`${text}\n`);
    },
    help(text) {
      stdout.write(`${text}\n`);
    },
    note(text) {
      stderr.write(`${text}\n`);
    },
    error(text) {
      stderr.write(`error: ${text}\n`);
    },
    json(value) {
      if (options.json) stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    jsonLine(value) {
      if (options.json) stdout.write(`${JSON.stringify(value)}\n`);
    },
  };
}
