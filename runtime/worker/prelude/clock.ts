/**
 * A run whose job gives a clock (`ferry/testing`'s `now`; under `nangoTests()` the instant a
 * Nango test set with `vi.setSystemTime`) reads that instant from `Date` for the whole run —
 * frozen, as the test's fake timers hold it in Node — so dates the script computes from the
 * clock match its recording. `new Date(x)`, `Date.parse`, `Date.UTC` and the prototype are the
 * real ones; timers are not affected. The host never sets a clock.
 */
import { DateCtor, ReflectConstruct, defineGlobal } from './builtins.ts';

const ProxyCtor = Proxy;
const ReflectGet = Reflect.get;

export function freezeClock(now: number): void {
  const dateNow = () => now;
  defineGlobal('Date', new ProxyCtor(DateCtor, {
    construct: (target, args, newTarget) => ReflectConstruct(target, args.length === 0 ? [now] : args, newTarget),
    // `Date()` called without new is the current time as text.
    apply: () => new DateCtor(now).toString(),
    get: (target, key, receiver) => (key === 'now' ? dateNow : ReflectGet(target, key, receiver)),
  }));
}
