/** `console` and Nango's `log`: lines go to the worker, truncated at the cap. */
import { ErrorCtor, StringCtor, defineGlobal, isArray, keys, own, stringify } from './builtins.ts';
import { CAPS, hasEnded, hostLog } from './host.ts';

function safeStringify(value: unknown): string {
  try {
    const text = stringify(value);
    return text === undefined ? StringCtor(value) : text;
  } catch {
    try {
      return StringCtor(value);
    } catch {
      return '[unprintable]';
    }
  }
}

function formatArgs(args: unknown[]): string {
  let line = '';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    let text: string;
    if (typeof arg === 'string') text = arg;
    else if (arg instanceof ErrorCtor) text = arg.stack || StringCtor(arg);
    else text = safeStringify(arg);
    line += (i === 0 ? '' : ' ') + text;
    if (line.length > CAPS.logLineChars) break;
  }
  return line;
}

export function emit(level: string, args: unknown[]): void {
  if (hasEnded()) return;
  const line = formatArgs(args);
  hostLog(level, line.length > CAPS.logLineChars ? line.slice(0, CAPS.logLineChars) : line);
}

const LEVELS: Record<string, string> = { debug: 'debug', info: 'info', warn: 'warn', error: 'error' };

/** Nango style: `log('msg', { level: 'warn' })`; the trailing `{ level }` option is not printed. */
export function nangoLog(...args: unknown[]): void {
  let level = 'info';
  const last = args[args.length - 1];
  if (args.length > 1 && last !== null && typeof last === 'object' && !isArray(last) && own(last, 'level') && keys(last).length === 1) {
    level = LEVELS[StringCtor((last as { level: unknown }).level)] || 'info';
    args.pop();
  }
  emit(level, args);
}

export function installConsole(): void {
  defineGlobal('console', {
    log: (...args: unknown[]) => emit('info', args),
    info: (...args: unknown[]) => emit('info', args),
    warn: (...args: unknown[]) => emit('warn', args),
    error: (...args: unknown[]) => emit('error', args),
    debug: (...args: unknown[]) => emit('debug', args),
    trace: (...args: unknown[]) => emit('debug', args),
  });
}
