/**
 * One `ferry dev` per data folder: `<data-dir>/dev.json` is taken exclusively at start (a second
 * dev on the same folder would open the same embedded database) and names the running dev host,
 * so other commands run from the project find its URL, and its key in `<data-dir>/secret-key`,
 * without flags. A file left by a dev that died (its pid gone) is taken over.
 */
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const LOCK_FILE = 'dev.json';

interface DevState {
  pid: number;
  url: string | null;
}

export class DevLockedError extends Error {
  readonly code = 'DEV_LOCKED';
  constructor(dataDir: string, pid: number) {
    super(`another ferry dev (pid ${pid}) is using ${dataDir}: stop it first, or give this one its own folder with --data-dir`);
    this.name = 'DevLockedError';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readState(dataDir: string): DevState | null {
  try {
    const state = JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')) as DevState;
    return Number.isInteger(state.pid) ? state : null;
  } catch {
    return null;
  }
}

export interface DevLock {
  /** Records the running host's URL for the other commands. */
  announce(url: string): void;
  release(): void;
}

export function acquireDevLock(dataDir: string): DevLock {
  const path = join(dataDir, LOCK_FILE);
  mkdirSync(dataDir, { recursive: true });
  const write = (state: DevState, flag: 'wx' | 'w') => writeFileSync(path, `${JSON.stringify(state)}\n`, { flag });
  try {
    write({ pid: process.pid, url: null }, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = readState(dataDir);
    if (holder && holder.pid !== process.pid && isAlive(holder.pid)) throw new DevLockedError(dataDir, holder.pid);
    write({ pid: process.pid, url: null }, 'w'); // left by a dev that is gone
  }
  return {
    announce: (url) => write({ pid: process.pid, url }, 'w'),
    release: () => {
      if (readState(dataDir)?.pid === process.pid) rmSync(path, { force: true });
    },
  };
}

/** The dev host running on this project's data folder (FERRY_DATA_DIR or .ferry), with its key, if any. */
export function findDevHost(env: NodeJS.ProcessEnv): { url: string; key: string | undefined } | null {
  const dataDir = resolve(env['FERRY_DATA_DIR'] ?? '.ferry');
  const state = readState(dataDir);
  if (!state?.url || !isAlive(state.pid)) return null;
  let key: string | undefined;
  try {
    key = readFileSync(join(dataDir, 'secret-key'), 'utf8').trim() || undefined;
  } catch {
    key = undefined;
  }
  return { url: state.url, key };
}
