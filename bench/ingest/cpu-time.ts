/**
 * CPU time spent by each process of a pipeline while a bench step runs (user + system, from
 * /proc/<pid>/stat; Linux only, elsewhere the figures are null). The machine is shared, so a
 * rate moves with its load; the CPU a step costs per record moves much less, and says where the
 * pipeline's time goes: this process (the host), its child processes (the runtime's workers) and
 * the Postgres backends serving the bench database.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Sql } from '../../host/db/connect.ts';

export interface CpuFigure {
  hostMs: number;
  workersMs: number;
  postgresMs: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** utime + stime, the parent pid and the name of a process or thread, from its /proc stat file. */
function readStat(path: string): { ms: number; ppid: number; name: string } | null {
  try {
    const text = readFileSync(path, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS, name: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')) };
  } catch {
    return null;
  }
}

/** utime + stime and the parent pid of `pid`, or null when it is gone (or not Linux). */
const stat = (pid: number) => readStat(`/proc/${pid}/stat`);

/**
 * CPU ms of a process's threads by name (/proc/<pid>/task, this process by default: the main
 * thread, V8's GC workers "V8Worker", libuv's pool; threads of one name summed). The main thread
 * is named "main" when `mainAs` says so (its name is the process's, which other threads inherit
 * unless they name themselves). Empty when not Linux.
 */
export function threadCpu(pid: number | 'self' = 'self', mainAs?: string): Map<string, number> {
  const byName = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  const mainTid = pid === 'self' ? String(process.pid) : String(pid);
  for (const tid of tids) {
    const s = readStat(`/proc/${pid}/task/${tid}/stat`); // null: the thread ended
    const name = mainAs !== undefined && tid === mainTid ? mainAs : s?.name;
    if (s && name !== undefined) byName.set(name, (byName.get(name) ?? 0) + s.ms);
  }
  return byName;
}

export function childrenOf(parent: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries.filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => stat(pid)?.ppid === parent);
}

export async function backendsOf(sql: Sql): Promise<number[]> {
  const rows = await sql<{ pid: number }[]>`select pid from pg_stat_activity where datname = current_database()`;
  return rows.map((r) => r.pid);
}

export type Snapshot = Map<number, number>;

export function snapshot(pids: number[]): Snapshot {
  const times: Snapshot = new Map();
  for (const pid of pids) {
    const s = stat(pid);
    if (s) times.set(pid, s.ms);
  }
  return times;
}

/** CPU ms used since `before` by the processes alive now (a process started since counts whole). */
export function used(before: Snapshot, pids: number[]): number {
  let ms = 0;
  for (const [pid, now] of snapshot(pids)) ms += now - (before.get(pid) ?? 0);
  return ms;
}

/**
 * Starts counting; the returned function stops and reports. Backends are listed again at the
 * end, and a backend that closed during the step is missed: the bench's pools keep theirs open.
 */
export async function cpuMeter(sql: Sql): Promise<() => Promise<CpuFigure | null>> {
  if (process.platform !== 'linux') return async () => null;
  const self = [process.pid];
  const host = snapshot(self);
  const workers = snapshot(childrenOf(process.pid));
  const postgres = snapshot(await backendsOf(sql));
  return async () => ({
    hostMs: used(host, self),
    workersMs: used(workers, childrenOf(process.pid)),
    postgresMs: used(postgres, [...new Set([...postgres.keys(), ...(await backendsOf(sql))])]),
  });
}
