/**
 * Watches a scripts folder and calls `onChange` once per burst of saves: editors write a file
 * in several steps (truncate, write, rename), and a save often touches several files.
 */
import { watch, type FSWatcher } from 'node:fs';

export interface Watcher {
  close(): void;
}

const RELEVANT = /\.(ts|mts|js|mjs|json)$/;

export function watchScripts(dir: string, onChange: (files: string[]) => Promise<void>, options: { debounceMs?: number } = {}): Watcher {
  const debounceMs = options.debounceMs ?? 150;
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();

  const flush = () => {
    timer = null;
    const files = [...pending];
    pending = new Set();
    // Changes are handled one burst at a time, in order: two deploys never race.
    running = running.then(() => onChange(files)).catch(() => {});
  };

  const watcher: FSWatcher = watch(dir, { recursive: true }, (_event, file) => {
    if (!file || !RELEVANT.test(file) || file.includes('node_modules') || /(^|\/)fixtures\//.test(file)) return;
    pending.add(file);
    if (timer) clearTimeout(timer);
    timer = setTimeout(flush, debounceMs);
  });

  return {
    close() {
      if (timer) clearTimeout(timer);
      watcher.close();
    },
  };
}
