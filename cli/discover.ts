/**
 * Finds scripts laid out as `<dir>/<provider>/syncs/<name>.ts` and `<dir>/<provider>/actions/<name>.ts`.
 * Tests (`*.test.ts`) and declaration files sit beside scripts and are skipped.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isIntegrationFolder } from './scripts-dir.ts';

export type ScriptKind = 'sync' | 'action';

export interface DiscoveredScript {
  name: string;
  provider: string;
  kind: ScriptKind;
  entryPath: string;
}

const KIND_FOLDERS: ReadonlyArray<[folder: string, kind: ScriptKind]> = [
  ['syncs', 'sync'],
  ['actions', 'action'],
];

async function listDir(path: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await readdir(path, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

function isScriptFile(file: string): boolean {
  return file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.endsWith('.d.ts');
}

export async function discoverScripts(dir: string): Promise<DiscoveredScript[]> {
  const root = resolve(dir);
  const found: DiscoveredScript[] = [];
  for (const provider of await listDir(root)) {
    if (!provider.isDirectory() || !isIntegrationFolder(provider.name)) continue;
    for (const [folder, kind] of KIND_FOLDERS) {
      const folderPath = join(root, provider.name, folder);
      for (const file of await listDir(folderPath)) {
        if (!file.isFile() || !isScriptFile(file.name)) continue;
        found.push({ name: file.name.slice(0, -'.ts'.length), provider: provider.name, kind, entryPath: join(folderPath, file.name) });
      }
    }
  }
  return found.sort((a, b) => a.provider.localeCompare(b.provider) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}
