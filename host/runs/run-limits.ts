/**
 * The limits one run gets: what its script declared, over the runtime's defaults, never above
 * its environment's caps. A script may declare what it needs; only the environment decides how
 * much of the machine that may be.
 */
import { LimitsSchema, type Limits, type ScriptManifest } from '@ferry/runtime/contract';
import type { Sql } from '../db/connect.ts';
import { readOne, rowRead, type RowRead } from '../db/read-together.ts';

export type LimitCaps = Limits;

/** The caps an environment has until it sets its own: 1 GiB of heap, an hour of wall and CPU time. */
export const DEFAULT_LIMIT_CAPS: LimitCaps = { memoryMb: 1024, wallTimeMs: 3600_000, cpuTimeMs: 3600_000 };

/** The settings column that caps each limit (PUT /environment/settings takes the same names). */
export const CAP_SETTINGS = { memoryMb: 'max_memory_mb', wallTimeMs: 'max_wall_time_ms', cpuTimeMs: 'max_cpu_time_ms' } as const;

/** The environment's caps (a run reads them with its other reads: read-together.ts). */
export function limitCapsRead(sql: Sql, environmentId: string): RowRead<LimitCaps> {
  return rowRead(sql`
    select max_memory_mb, max_wall_time_ms, max_cpu_time_ms from environment_settings where environment_id = ${environmentId}`, (row) => ({
    memoryMb: (row?.max_memory_mb as number | null | undefined) ?? DEFAULT_LIMIT_CAPS.memoryMb,
    wallTimeMs: (row?.max_wall_time_ms as number | null | undefined) ?? DEFAULT_LIMIT_CAPS.wallTimeMs,
    cpuTimeMs: (row?.max_cpu_time_ms as number | null | undefined) ?? DEFAULT_LIMIT_CAPS.cpuTimeMs,
  }));
}

export function environmentLimitCaps(sql: Sql, environmentId: string): Promise<LimitCaps> {
  return readOne(limitCapsRead(sql, environmentId));
}

/** Each declared limit above its cap, said so a deploy can refuse it naming the limit. */
export function limitsOverCaps(declared: ScriptManifest['limits'], caps: LimitCaps): Array<{ limit: keyof Limits; message: string }> {
  const over: Array<{ limit: keyof Limits; message: string }> = [];
  for (const limit of Object.keys(CAP_SETTINGS) as Array<keyof Limits>) {
    const value = declared?.[limit];
    if (value !== undefined && value > caps[limit]) {
      over.push({ limit, message: `declares limits.${limit} = ${value}, above this environment's cap of ${caps[limit]} (environment setting ${CAP_SETTINGS[limit]})` });
    }
  }
  return over;
}

export function runLimits(declared: ScriptManifest['limits'], caps: LimitCaps = DEFAULT_LIMIT_CAPS): Limits {
  const limits = LimitsSchema.parse(declared ?? {});
  // Caps lowered after a deploy still hold: the run gets the cap, not what was declared.
  return { memoryMb: Math.min(limits.memoryMb, caps.memoryMb), wallTimeMs: Math.min(limits.wallTimeMs, caps.wallTimeMs), cpuTimeMs: Math.min(limits.cpuTimeMs, caps.cpuTimeMs) };
}

/** The limits a run of this script in this environment starts with. */
export async function limitsFor(sql: Sql, environmentId: string, declared: ScriptManifest['limits']): Promise<Limits> {
  return runLimits(declared, await environmentLimitCaps(sql, environmentId));
}
