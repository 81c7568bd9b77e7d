/**
 * What a host process does with a fault nothing caught. A stray promise rejection (a callback
 * whose promise nobody awaited) ends a Node 24 process by default, taking every request and run
 * of the host with it for one lost promise: it is logged and the host carries on. An uncaught
 * exception leaves the process in an unknown state, so it stays fatal: logged, then exit 1 for
 * the supervisor (systemd, Kubernetes, the operator) to restart the host. For process entries
 * only (`ferry-server`, `ferry start`, `ferry dev`): a library must not take over its embedder's
 * process handlers.
 */
import { clipText } from './clip-text.ts';
import type { Logger } from './logger.ts';

/** A reason's message and stack as logged: a rejection can carry megabytes (a response body). */
const MAX_MESSAGE_CHARS = 2_000;
const MAX_STACK_CHARS = 4_000;

/** A bounded, loggable description of whatever was thrown or rejected (not always an Error). */
export function describeFault(reason: unknown): { type: string; message: string; stack?: string; code?: string } {
  if (reason instanceof Error) {
    const code = (reason as { code?: unknown }).code;
    return {
      type: reason.name,
      message: clipText(reason.message, MAX_MESSAGE_CHARS),
      ...(reason.stack && { stack: clipText(reason.stack, MAX_STACK_CHARS) }),
      ...(typeof code === 'string' && { code: clipText(code, 100) }),
    };
  }
  let message: string;
  try {
    message = typeof reason === 'string' ? reason : JSON.stringify(reason) ?? String(reason);
  } catch {
    message = Object.prototype.toString.call(reason); // a cycle, a BigInt
  }
  return { type: typeof reason, message: clipText(message, MAX_MESSAGE_CHARS) };
}

let guarded = false;

/** Installs the two handlers once per process. */
export function guardProcessFaults(logger: Logger): void {
  if (guarded) return;
  guarded = true;
  const log = logger.child({ module: 'process' });
  process.on('unhandledRejection', (reason) => {
    log.error({ fault: describeFault(reason) }, 'unhandled promise rejection: logged, the host carries on');
  });
  process.on('uncaughtException', (err, origin) => {
    log.fatal({ fault: describeFault(err), origin }, 'uncaught exception: the host exits for its supervisor to restart it');
    // pino.destination writes synchronously: the line is out before the exit.
    process.exit(1);
  });
}
