/**
 * Watches a scripts folder and calls `onChange` once per burst of saves. chokidar rather than
 * fs.watch: editors save atomically (write a temp file, rename it over the original), which
 * fs.watch stops following after the first replace; chokidar also picks up renames, deletes and
 * files in folders created after the watch began. A save often touches several files, so
 * changes are debounced and handled one burst at a time, in order.
 */
import { relative } from 'node:path';
import { watch } from 'chokidar';

export interface Watcher {
  /** Resolves once the initial scan is done: changes after this are reported. */
  ready: Promise<void>;
  close(): Promise<void>;
}

const RELEVANT = /\.(ts|mts|js|mjs|json)$/;
const IGNORED = /(^|[/\\])(node_modules|fixtures|\.ferry|\.git)([/\\]|$)/;

export function watchScripts(dir: string, onChange: (files: string[]) => Promise<void>, options: { debounceMs?: number } = {}): Watcher {
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

  const watcher = watch(dir, { ignoreInitial: true, atomic: true, ignored: (path) => IGNORED.test(relative(dir, path)) });
  watcher.on('all', (event, path) => {
    if (event === 'addDir' || event === 'unlinkDir') return; // the files inside them are reported one by one
    if (!RELEVANT.test(path)) return;
    pending.add(relative(dir, path));
    if (timer) clearTimeout(timer);
    timer = setTimeout(flush, debounceMs);
  });
  const ready = new Promise<void>((done) => watcher.once('ready', () => done()));

  return {
    ready,
    async close() {
      if (timer) clearTimeout(timer);
      await watcher.close();
      await running;
    },
  };
}
