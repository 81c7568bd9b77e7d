/**
 * The call stack a script gets, in KiB. isolated-vm runs scripts on threads of its own and sets
 * each isolate's stack limit 24 KiB (its padding for native code) above the thread stack's end;
 * those threads get glibc's default size, which is the process's RLIMIT_STACK soft limit, or
 * 2 MiB when that is unlimited. Read once per worker child; null where /proc cannot tell.
 */
import { readFileSync } from 'node:fs';

const IVM_PADDING_KIB = 24;
const GLIBC_DEFAULT_KIB = 2048;

let cached: number | null | undefined;

export function scriptStackKib(): number | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max stack size'));
    const soft = line?.slice('Max stack size'.length).trim().split(/\s+/)[0];
    if (soft === 'unlimited') cached = GLIBC_DEFAULT_KIB - IVM_PADDING_KIB;
    else if (soft && /^\d+$/.test(soft)) cached = Math.floor(Number(soft) / 1024) - IVM_PADDING_KIB;
  } catch {
    // not Linux: the figure is left out
  }
  return cached;
}
