/** The per-script pass/fail table and summary of a corpus run; returns whether everything passed. */
import { PATHS, UNREPLAYABLE, type CaseResult } from './run-paths.ts';

const mark = (why: string | null) => (why === null ? 'pass' : why.startsWith(UNREPLAYABLE) ? 'skip' : 'FAIL');

export function printReport(results: CaseResult[], out: { write(text: string): unknown }): boolean {
  const width = Math.max(...results.map((r) => r.case.id.length), 6);
  out.write(`${'script'.padEnd(width)}  kind    ${PATHS.map((p) => p.padEnd(8)).join('')}\n`);
  for (const { case: c, paths } of results) {
    out.write(`${c.id.padEnd(width)}  ${c.kind.padEnd(6)}  ${PATHS.map((p) => mark(paths[p]).padEnd(8)).join('')}\n`);
  }
  const listed = results.flatMap(({ case: c, paths }) => PATHS.filter((p) => paths[p] !== null).map((p) => ({ id: c.id, path: p, why: paths[p]! })));
  const failures = listed.filter((f) => !f.why.startsWith(UNREPLAYABLE));
  const skipped = listed.filter((f) => f.why.startsWith(UNREPLAYABLE));
  for (const [title, list] of [['Failures', failures], ['Skipped (the fixture cannot be replayed)', skipped]] as const) {
    if (list.length === 0) continue;
    out.write(`\n${title}:\n`);
    for (const f of list) out.write(`  ${f.id} [${f.path}]: ${f.why.replace(/\n/g, '\n      ')}\n`);
  }
  const passed = results.filter(({ paths }) => PATHS.every((p) => paths[p] === null)).length;
  const replayable = results.filter(({ paths }) => !PATHS.some((p) => paths[p]?.startsWith(UNREPLAYABLE)));
  const perPath = PATHS.map((p) => `${p} ${replayable.filter((r) => r.paths[p] === null).length}/${replayable.length}`).join(', ');
  out.write(`\n${passed}/${replayable.length} replayable script(s) pass every path (${perPath}); ${results.length - replayable.length} of ${results.length} cannot be replayed\n`);
  return failures.length === 0;
}
