/**
 * Watches a scripts folder and calls `onChange` once per burst of saves. chokidar rather than
 * fs.watch: editors save atomically (write a temp file, rename it over the original), which
 * fs.watch stops following after the first replace; chokidar also picks up renames, deletes and
 * files in folders created after the watch began (a folder that does not exist yet is awaited
 * from its nearest existing parent). A save often touches several files, so changes are
 * debounced and handled one burst at a time, in order.
 *
 * A watcher reports only what changes after its initial scan: a save between the caller's last
 * look at the folder (its first deploy) and the end of that scan would be lost, and the first
 * script saved into a new folder is often exactly that. So `since` is what the caller saw
 * (scriptsSnapshot, taken before it read the folder), and once the watcher is ready every file
 * that differs from it is reported as a change.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { watch } from 'chokidar';

export interface Watcher {
  /** Resolves once the initial scan is done (and what changed since `since` is queued): changes after this are reported. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/** Each relevant file under the folder (relative path) with its size and modification time. */
export type ScriptsSnapshot = ReadonlyMap<string, string>;

const RELEVANT = /\.(ts|mts|js|mjs|json)$/;
const IGNORED = /(^|[/\\])(node_modules|fixtures|\.ferry|\.git)([/\\]|$)/;

/** The relevant files under `dir` as they are now; empty when `dir` does not exist (yet). Ignored folders are not entered. */
export async function scriptsSnapshot(dir: string): Promise<ScriptsSnapshot> {
  const files = new Map<string, string>();
  const walk = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []); // gone meanwhile: nothing in it
    for (const entry of entries) {
      const path = join(folder, entry.name);
      const rel = relative(dir, path);
      if (IGNORED.test(rel)) continue;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && RELEVANT.test(entry.name)) {
        const stats = await stat(path).catch(() => null); // removed meanwhile: absent, as it is now
        if (stats) files.set(rel, `${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`);
      }
    }
  };
  await walk(dir);
  return files;
}

/** The files added, removed or changed from `before` to `after`. */
function changedFiles(before: ScriptsSnapshot, after: ScriptsSnapshot): string[] {
  const changed = [...after].filter(([file, version]) => before.get(file) !== version).map(([file]) => file);
  return [...changed, ...[...before.keys()].filter((file) => !after.has(file))];
}

export function watchScripts(
  dir: string, onChange: (files: string[]) => Promise<void>, options: { debounceMs?: number; since?: ScriptsSnapshot } = {},
): Watcher {
  const debounceMs = options.debounceMs ?? 150;
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();

  const flush = () => {
    timer = null;
    const files = [...pending].sort();
    pending = new Set();
    running = running.then(() => onChange(files)).catch(() => {});
  };
  const changed = (files: string[]) => {
    if (files.length === 0) return;
    for (const file of files) pending.add(file);
    if (timer) clearTimeout(timer);
    timer = setTimeout(flush, debounceMs);
  };

  const watcher = watch(dir, { ignoreInitial: true, atomic: true, ignored: (path) => IGNORED.test(relative(dir, path)) });
  watcher.on('all', (event, path) => {
    if (event === 'addDir' || event === 'unlinkDir') return; // the files inside them are reported one by one
    if (!RELEVANT.test(path)) return;
    changed([relative(dir, path)]);
  });
  const scanned = new Promise<void>((done) => watcher.once('ready', () => done()));
  const since = options.since;
  const ready = since ? scanned.then(async () => changed(changedFiles(since, await scriptsSnapshot(dir)))) : scanned;

  return {
    ready,
    async close() {
      await ready.catch(() => {});
      if (timer) clearTimeout(timer);
      await watcher.close();
      await running;
    },
  };
}
