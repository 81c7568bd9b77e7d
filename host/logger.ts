import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** One root logger per process (stdout unless given a destination, e.g. stderr for the CLI); modules take a child (`logger.child({ module })`) as a dependency. */
export function createLogger(options: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  return pino({
    name: options.name ?? 'ferry',
    level: options.level ?? process.env.FERRY_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
    // Never let a credential reach a log line, whatever object a caller logs.
    redact: { paths: ['*.credentials', '*.password', '*.apiKey', '*.accessToken', '*.refreshToken', 'headers.authorization'], censor: '[redacted]' },
  }, options.destination ?? pino.destination(1));
}
