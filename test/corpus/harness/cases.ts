/**
 * Scripts laid out as in NangoHQ/integration-templates: `<provider>/{syncs,actions}/<name>.ts`
 * with the recorded fixture at `<provider>/tests/<name>.test.json`. Scripts without one are
 * left out (nothing to replay).
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface FoundScript {
  provider: string;
  name: string;
  kind: 'sync' | 'action';
  file: string;
  fixture: string;
}

export async function findScriptsWithFixtures(root: string): Promise<FoundScript[]> {
  const found: FoundScript[] = [];
  const providers = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  for (const provider of providers) {
    for (const [folder, kind] of [['syncs', 'sync'], ['actions', 'action']] as const) {
      const dir = join(root, provider, folder);
      if (!existsSync(dir)) continue;
      for (const file of (await readdir(dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts')).sort()) {
        const name = file.slice(0, -3);
        const fixture = join(root, provider, 'tests', `${name}.test.json`);
        if (existsSync(fixture)) found.push({ provider, name, kind, file: join(dir, file), fixture });
      }
    }
  }
  return found;
}
