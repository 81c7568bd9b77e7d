/**
 * What a run produced against what the fixture says it should: records compared as sets by
 * id (the order a sync saves in is not part of its contract), outputs compared exactly, both
 * as JSON (undefined fields dropped, as Nango's own tests do).
 */
import { isDeepStrictEqual } from 'node:util';
import { expectedRecords, type NangoFixture } from '../../../testing/nango-fixture.ts';

const asJson = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

function byId(records: unknown[]): Array<Record<string, unknown>> {
  return (asJson(records) as Array<Record<string, unknown>>).sort((a, b) => String(a['id']).localeCompare(String(b['id'])));
}

function firstDifference(expected: Array<Record<string, unknown>>, actual: Array<Record<string, unknown>>): string {
  if (expected.length !== actual.length) return `${actual.length} record(s), expected ${expected.length}`;
  const at = expected.findIndex((record, i) => !isDeepStrictEqual(record, actual[i]));
  const want = expected[at] ?? {};
  const got = actual[at] ?? {};
  const keys = [...new Set([...Object.keys(want), ...Object.keys(got)])].filter((k) => !isDeepStrictEqual(want[k], got[k]));
  return `record ${String(want['id'])}: ${keys.map((k) => `${k} is ${JSON.stringify(got[k])?.slice(0, 80)}, expected ${JSON.stringify(want[k])?.slice(0, 80)}`).join('; ')}`;
}

/** null when the records match, else what differs first. */
export function compareRecords(fixture: NangoFixture, recordsOf: (model: string) => unknown[]): string | null {
  for (const [model, expected] of expectedRecords(fixture)) {
    const want = byId(expected);
    const got = byId(recordsOf(model));
    if (!isDeepStrictEqual(want, got)) return `${model}: ${firstDifference(want, got)}`;
  }
  return null;
}

export function compareOutput(fixture: NangoFixture, output: unknown): string | null {
  if (fixture.output === undefined) return null;
  if (isDeepStrictEqual(asJson(fixture.output), asJson(output))) return null;
  return `output ${JSON.stringify(output)?.slice(0, 200)}, expected ${JSON.stringify(fixture.output).slice(0, 200)}`;
}
