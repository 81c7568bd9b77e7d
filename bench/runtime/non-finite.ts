/**
 * The NaN check of batchSave (runtime/worker/prelude/non-finite.ts) on records that hold nulls,
 * as many providers' records do (a blank phone, no owner): only those are checked, since only a
 * null in the JSON text can be a NaN or ±Infinity that JSON.stringify wrote. Per record, in this
 * process's V8 (the isolate's engine): the JSON.stringify every saved record costs anyway, and the
 * check by the exact walk alone (a second stringify with a replacer: the check before session 12)
 * against the check as it is (a plain-data walk first). Alternating rounds, medians.
 * Run: npx node bench/runtime/non-finite.ts   (BENCH_RECORDS per round, default 20,000; BENCH_ROUNDS, default 7)
 */
import { loadavg } from 'node:os';
import { nonFiniteReason, nonFiniteReasonAsStringified } from '../../runtime/worker/prelude/non-finite.ts';
import { contactRecord } from '../ingest/contact-data.ts';

const COUNT = Number(process.env.BENCH_RECORDS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
// The bench's ~1 KB contacts, each with a few fields a provider left empty.
const records = Array.from({ length: COUNT }, (_, n) => ({ ...contactRecord(n), phone: null, owner_id: n % 2 ? null : `user-${n % 41}`, address: { ...contactRecord(n).address as object, line2: null } }));

const variants: Array<[string, (record: unknown) => unknown]> = [
  ['JSON.stringify alone (every saved record pays it)', (r) => JSON.stringify(r)],
  ['check by a second stringify with a replacer (before)', (r) => nonFiniteReasonAsStringified(r)],
  ['check as it is: the plain-data walk first (after)', (r) => nonFiniteReason(r)],
];
const times = variants.map(() => [] as number[]);
let sink = 0;
for (let round = 0; round < ROUNDS; round++) {
  variants.forEach(([, run], v) => {
    const started = process.cpuUsage();
    for (const record of records) {
      const result = run(record);
      if (v === 0) sink += (result as string).length;
      else if (result !== null) throw new Error(`a record with no NaN was found to hold one: ${String(result)}`);
    }
    const used = process.cpuUsage(started);
    times[v]!.push((used.user + used.system) / COUNT);
  });
}
if (sink === 0) throw new Error('nothing was stringified');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(`${COUNT.toLocaleString('en')} records with nulls, ${ROUNDS} alternating rounds; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
process.stdout.write('| per record | CPU µs, median | rounds |\n|---|---|---|\n');
variants.forEach(([label], v) => process.stdout.write(`| ${label} | ${median(times[v]!).toFixed(2)} | ${times[v]!.map((t) => t.toFixed(2)).join(' ')} |\n`));
