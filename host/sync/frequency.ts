/**
 * A sync's schedule: Nango's interval forms ("every 30 minutes", "every hour", "every 1d",
 * "30min") or a cron expression, optionally with a time zone as crontab writes it
 * ("CRON_TZ=Europe/Paris 0 9 * * 1-5"). Cron is evaluated with croner (DST-correct).
 */
import { Cron } from 'croner';

const UNITS: Record<string, number> = {
  s: 1_000, sec: 1_000, secs: 1_000, second: 1_000, seconds: 1_000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
};

export const MIN_FREQUENCY_MS = 1_000;

export type Schedule =
  | { kind: 'interval'; ms: number }
  /** periodMs: the gap between the next two fire times (for display and as a nominal period). */
  | { kind: 'cron'; expression: string; timezone: string | null; periodMs: number };

/** A duration such as "30 minutes", "every 2h", "90 days" in milliseconds. */
export function parseDuration(text: string): number | null {
  const match = /^\s*(?:every\s+)?(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$/i.exec(text);
  const unit = match?.[2]?.toLowerCase();
  const ms = unit ? UNITS[unit] : undefined;
  if (!match || ms === undefined) return null;
  return ms * Number(match[1] ?? 1);
}

const CRON_FIELD = /^[\d*?/,\-LW#A-Za-z]+$/;

function looksLikeCron(text: string): boolean {
  const fields = text.trim().split(/\s+/);
  return (fields.length === 5 || fields.length === 6) && fields.every((f) => CRON_FIELD.test(f)) && /[*\d]/.test(fields[0]!);
}

export function parseSchedule(text: string): Schedule {
  const tzMatch = /^\s*(?:CRON_)?TZ=(\S+)\s+(.*)$/i.exec(text);
  const expression = (tzMatch ? tzMatch[2]! : text).trim();
  if (tzMatch || looksLikeCron(expression)) {
    const timezone = tzMatch?.[1] ?? null;
    let a: Date | undefined;
    let b: Date | undefined;
    try {
      // croner checks the zone only when it computes a date, so both steps are inside the try.
      [a, b] = new Cron(expression, { timezone: timezone ?? 'UTC', paused: true }).nextRuns(2);
    } catch (err) {
      throw new Error(`invalid schedule "${text}": ${(err as Error).message}`);
    }
    if (!a || !b) throw new Error(`invalid schedule "${text}": it never fires`);
    return { kind: 'cron', expression, timezone, periodMs: Math.max(b.getTime() - a.getTime(), MIN_FREQUENCY_MS) };
  }
  const ms = parseDuration(text);
  if (ms === null) {
    throw new Error(`invalid frequency "${text}": use e.g. "every 30 minutes", "every hour", "every 1d" or a cron expression ("CRON_TZ=Europe/Paris 0 9 * * 1-5")`);
  }
  if (ms < MIN_FREQUENCY_MS) throw new Error(`invalid frequency "${text}": the minimum is 1 second`);
  return { kind: 'interval', ms };
}

/** The schedule's period in ms (cron: its nominal period). Kept for the deployer's validation. */
export function parseFrequency(text: string): number {
  const schedule = parseSchedule(text);
  return schedule.kind === 'interval' ? schedule.ms : schedule.periodMs;
}

/** The next fire time of a cron strictly after `after`. */
export function nextCronRun(expression: string, timezone: string | null, after: Date): Date {
  const next = new Cron(expression, { timezone: timezone ?? 'UTC', paused: true }).nextRun(after);
  if (!next) throw new Error(`cron "${expression}" never fires after ${after.toISOString()}`);
  return next;
}

/**
 * A pair's phase within its period: a stable hash of its key (FNV-1a), so "every minute" for
 * 2,000 pairs means 2,000 runs spread over the minute rather than 2,000 runs in the same second,
 * and a pair keeps its slot across restarts and across workers.
 */
export function phaseOf(key: string, periodMs: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Spread the 32-bit hash over the period (a plain modulo would favour small phases for long periods).
  return Math.floor((h / 2 ** 32) * periodMs);
}

/** The first time at or after `earliestMs` (epoch ms) that lies on the pair's phase: t ≡ phaseMs (mod periodMs). */
export function nextPhasedRun(earliestMs: number, periodMs: number, phaseMs: number): number {
  const offset = (((phaseMs - earliestMs) % periodMs) + periodMs) % periodMs;
  return earliestMs + offset;
}

/**
 * An interval pair's next run after a run due at `dueMs` was claimed at `nowMs`: never sooner than
 * one period after the previous due time (so "every hour" never runs twice within the hour), on
 * the pair's phase, and not in the past. In steady state that is exactly due + period.
 */
export function nextIntervalRun(key: string, periodMs: number, dueMs: number, nowMs: number): number {
  return nextPhasedRun(Math.max(dueMs + periodMs, nowMs), periodMs, phaseOf(key, periodMs));
}
