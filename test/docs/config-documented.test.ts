/**
 * docs/production.md's configuration table is what an operator reads to configure Ferry: it names
 * every variable host/config.ts reads, and none it does not (a renamed or removed variable would
 * otherwise stay documented). Variables once missing from it: FERRY_PUBLIC_URL, FERRY_DATA_DIR,
 * FERRY_METRICS_TOKEN, FERRY_DEMO.
 */
import { readFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { CONFIG_VARIABLES } from '../../host/config.ts';

/** The variables named in the first column of the table under `## Configuration`. */
async function documentedVariables(): Promise<string[]> {
  const text = await readFile(new URL('../../docs/production.md', import.meta.url), 'utf8');
  const section = text.slice(text.indexOf('\n## Configuration\n'));
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  return rows.flatMap((row) => [...row.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!));
}

test('docs/production.md documents every configuration variable, and only those', async () => {
  const documented = await documentedVariables();
  expect(documented.length).toBeGreaterThan(0);
  expect([...documented].sort()).toEqual([...CONFIG_VARIABLES].sort());
});
