/**
 * Parses a sync's frequency: Nango's forms ("every 30 minutes", "every hour", "every 1d",
 * "30min", "every day") into milliseconds.
 */
const UNITS: Record<string, number> = {
  s: 1_000, sec: 1_000, secs: 1_000, second: 1_000, seconds: 1_000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
};

export const MIN_FREQUENCY_MS = 1_000;

export function parseFrequency(text: string): number {
  const match = /^\s*(?:every\s+)?(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$/i.exec(text);
  const unit = match?.[2]?.toLowerCase();
  const ms = unit ? UNITS[unit] : undefined;
  if (!match || ms === undefined) {
    throw new Error(`invalid frequency "${text}": use e.g. "every 30 minutes", "every hour", "every 1d"`);
  }
  const value = ms * Number(match[1] ?? 1);
  if (value < MIN_FREQUENCY_MS) throw new Error(`invalid frequency "${text}": the minimum is 1 second`);
  return value;
}
