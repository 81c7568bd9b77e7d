/**
 * Pure functions of the scheduler: schedule parsing (intervals, cron with a time zone), each
 * pair's phase within its period, the retry policy, and the per-environment ranking that
 * becomes queue priority.
 */
import { describe, expect, test } from 'vitest';
import type { RunError } from '../../runtime/contract.ts';
import { rankPerEnvironment } from '../../host/queue/queue.ts';
import { nextCronRun, nextIntervalRun, nextPhasedRun, parseDuration, parseFrequency, parseSchedule, phaseOf } from '../../host/sync/frequency.ts';
import { DEFAULT_RETRY, decideRetry } from '../../host/sync/retry-policy.ts';
import type { DueSync } from '../../host/sync/sync-state.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('frequency parsing', () => {
  test.each([
    ['every 30 minutes', 30 * MIN],
    ['every hour', HOUR],
    ['every 1d', 24 * HOUR],
    ['30min', 30 * MIN],
    ['every 2h', 2 * HOUR],
    ['EVERY 1 Week', 7 * 24 * HOUR],
    ['every 1.5 hours', 1.5 * HOUR],
    ['45s', 45_000],
  ])('%s is an interval of %i ms', (text, ms) => {
    expect(parseSchedule(text)).toEqual({ kind: 'interval', ms });
    expect(parseFrequency(text)).toBe(ms);
  });

  test.each(['every fortnight-ish', 'soon', '', 'every -5 minutes', 'every 5 parsecs'])('"%s" is refused with an example of what works', (text) => {
    expect(() => parseSchedule(text)).toThrow(/invalid frequency.*every 30 minutes/);
  });

  test('intervals under a second are refused', () => {
    expect(() => parseSchedule('every 0.5s')).toThrow(/minimum is 1 second/);
    expect(parseDuration('500 seconds')).toBe(500_000);
  });

  test('a cron expression without a time zone is evaluated in UTC', () => {
    const s = parseSchedule('0 9 * * 1-5');
    expect(s).toEqual({ kind: 'cron', expression: '0 9 * * 1-5', timezone: null, periodMs: expect.any(Number) });
    // Friday 2025-01-03 10:00 UTC → Monday 09:00 UTC.
    expect(nextCronRun('0 9 * * 1-5', null, new Date('2025-01-03T10:00:00Z')).toISOString()).toBe('2025-01-06T09:00:00.000Z');
  });

  test('CRON_TZ (and TZ) set the zone; the period is the gap between the next two fire times', () => {
    const s = parseSchedule('CRON_TZ=Asia/Kolkata 30 3 * * *');
    expect(s).toEqual({ kind: 'cron', expression: '30 3 * * *', timezone: 'Asia/Kolkata', periodMs: 24 * HOUR });
    // 03:30 in Kolkata (UTC+5:30) is 22:00 UTC the day before.
    expect(nextCronRun('30 3 * * *', 'Asia/Kolkata', new Date('2025-06-01T12:00:00Z')).toISOString()).toBe('2025-06-01T22:00:00.000Z');
    expect(parseSchedule('TZ=Europe/Paris */15 * * * *')).toMatchObject({ timezone: 'Europe/Paris', periodMs: 15 * MIN });
  });

  test('cron in a zone with daylight saving keeps the wall-clock time across the change', () => {
    // Paris moves from UTC+1 to UTC+2 on 2025-03-30: 09:00 local is 08:00 UTC before, 07:00 UTC after.
    expect(nextCronRun('0 9 * * *', 'Europe/Paris', new Date('2025-03-29T00:00:00Z')).toISOString()).toBe('2025-03-29T08:00:00.000Z');
    expect(nextCronRun('0 9 * * *', 'Europe/Paris', new Date('2025-03-30T00:00:00Z')).toISOString()).toBe('2025-03-30T07:00:00.000Z');
  });

  test('a bad cron or an unknown zone is refused', () => {
    expect(() => parseSchedule('CRON_TZ=Mars/Olympus 0 9 * * *')).toThrow(/invalid schedule/);
    expect(() => parseSchedule('CRON_TZ=UTC 61 * * * *')).toThrow(/invalid schedule/);
  });
});

describe('phase within the period', () => {
  test('is stable per pair, inside the period, and spreads 2,000 pairs over the minute', () => {
    expect(phaseOf('42:contacts', MIN)).toBe(phaseOf('42:contacts', MIN));
    const phases = Array.from({ length: 2000 }, (_, i) => phaseOf(`${i + 1}:contacts`, MIN));
    for (const p of phases) expect(p >= 0 && p < MIN).toBe(true);
    // Per second of the minute, about 33 pairs; none should hold more than a few times that.
    const perSecond = new Array(60).fill(0);
    for (const p of phases) perSecond[Math.floor(p / 1000)]++;
    expect(Math.max(...perSecond)).toBeLessThan(70);
    expect(Math.min(...perSecond)).toBeGreaterThan(10);
  });

  test('nextPhasedRun lands on the phase, at or after the earliest time, within one period', () => {
    for (const earliest of [0, 1_000, 59_999, 1_700_000_012_345]) {
      for (const phase of [0, 17_000, 59_999]) {
        const t = nextPhasedRun(earliest, MIN, phase);
        expect(((t % MIN) + MIN) % MIN).toBe(phase);
        expect(t).toBeGreaterThanOrEqual(earliest);
        expect(t - earliest).toBeLessThan(MIN);
      }
    }
  });

  test('the next interval run: exactly one period on in steady state, never sooner than a period after the last due time, never in the past', () => {
    const key = '7:orders';
    const phase = phaseOf(key, HOUR);
    const slot = 1_700_000_000_000 - (1_700_000_000_000 % HOUR) + phase;
    expect(nextIntervalRun(key, HOUR, slot, slot + 300)).toBe(slot + HOUR);
    // A new pair, due at an arbitrary moment: its next run is on its phase, 1 to 2 periods later.
    const created = slot + 1234;
    const next = nextIntervalRun(key, HOUR, created, created + 10);
    expect(next - created).toBeGreaterThanOrEqual(HOUR);
    expect(next - created).toBeLessThan(2 * HOUR);
    expect((next - phase) % HOUR).toBe(0);
    // Claimed hours late (a backlog): the next slot after now, not a string of catch-up runs.
    const now = slot + 5 * HOUR + 10;
    expect(nextIntervalRun(key, HOUR, slot, now)).toBe(slot + 6 * HOUR);
  });
});

describe('retry policy', () => {
  const scriptError: RunError = { kind: 'script', code: 'SCRIPT_ERROR', message: 'boom' };
  const opts = { maxRetries: 3, baseMs: 1_000, maxMs: 5_000 };

  test('exponential backoff with equal jitter: between half and all of base × 2^attempt, capped', () => {
    for (const [attempt, ceiling] of [[0, 1_000], [1, 2_000], [2, 4_000]] as const) {
      expect(decideRetry(scriptError, attempt, opts, () => 0)).toEqual({ delayMs: ceiling / 2, countsAsAttempt: true });
      expect(decideRetry(scriptError, attempt, opts, () => 0.999_999)!.delayMs).toBe(ceiling);
    }
    // The cap applies before jitter.
    const capped = { ...opts, maxRetries: 10 };
    expect(decideRetry(scriptError, 6, capped, () => 0)!.delayMs).toBe(2_500);
    expect(decideRetry(scriptError, 6, capped, () => 0.999_999)!.delayMs).toBe(5_000);
  });

  test('jitter spreads retries of pairs that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => decideRetry(scriptError, 1, opts)!.delayMs));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) expect(d >= 1_000 && d <= 2_000).toBe(true);
  });

  test('after maxRetries attempts, no retry (the pair waits for its next scheduled run)', () => {
    expect(decideRetry(scriptError, 3, opts)).toBeNull();
    expect(decideRetry(scriptError, 0, { ...opts, maxRetries: 0 })).toBeNull();
  });

  test('NON_RETRYABLE never retries, even on the first failure', () => {
    expect(decideRetry({ kind: 'script', code: 'NON_RETRYABLE', message: 'bad config' }, 0, opts)).toBeNull();
  });

  test('RETRY_AFTER waits what was asked (bounded to a day) and does not use up an attempt, even past maxRetries', () => {
    const after = (ms: number): RunError => ({ kind: 'script', code: 'RETRY_AFTER', message: 'later', retryAfterMs: ms } as RunError);
    expect(decideRetry(after(600_000), 0, opts)).toEqual({ delayMs: 600_000, countsAsAttempt: false });
    expect(decideRetry(after(600_000), 3, opts)).toEqual({ delayMs: 600_000, countsAsAttempt: false });
    expect(decideRetry(after(-5), 0, opts)!.delayMs).toBe(0);
    expect(decideRetry(after(10 * 24 * 3600_000), 0, opts)!.delayMs).toBe(24 * 3600_000);
  });

  test('defaults: 3 retries from 30 s up to 30 min', () => {
    expect(DEFAULT_RETRY).toEqual({ maxRetries: 3, baseMs: 30_000, maxMs: 30 * MIN });
  });
});

describe('per-environment ranking', () => {
  const due = (env: string, conn: string): DueSync => ({ environment_id: env, connection_id: conn, sync_name: 's', variant: 'base', provider: 'p', due_at: new Date(0) });

  test('each environment\'s pairs are numbered 1, 2, … in claim order, independently of the others', () => {
    const ranked = rankPerEnvironment([due('1', 'a'), due('1', 'b'), due('2', 'x'), due('1', 'c'), due('3', 'y'), due('2', 'z')]);
    expect(ranked.map(({ d, rank }) => `${d.environment_id}/${d.connection_id}:${rank}`)).toEqual(['1/a:1', '1/b:2', '2/x:1', '1/c:3', '3/y:1', '2/z:2']);
  });

  test('a tenant with 2,000 due pairs does not rank ahead of another\'s single one', () => {
    const big = Array.from({ length: 2000 }, (_, i) => due('1', `big${i}`));
    const ranked = rankPerEnvironment([...big, due('2', 'small')]);
    const small = ranked.find(({ d }) => d.environment_id === '2')!;
    expect(small.rank).toBe(1);
    // Priority is −rank: only the big tenant's first pair is as high as the small one's.
    expect(ranked.filter(({ rank }) => rank <= small.rank)).toHaveLength(2);
  });
});
