/**
 * Maps a failed run's error to the script's source through the map deployed with its bundle:
 * the recorded error's stack names the author's `file.ts:line:col` and `location` holds the
 * script's own frame. The map is read only for a failure with a stack, and parsed maps are kept
 * by bundle hash (a sync failing every minute parses its map once). Log lines that hold a stack
 * (a script that logs the Error it caught) are mapped the same way. Mapping never fails a run:
 * an unreadable map leaves the error as the runtime gave it.
 */
import { BUNDLE_URL, type LogEntry, type RunError } from '@ferry/runtime/contract';
import { locateLogStacks as mapLogStacks, locateRunError, readSourceMap } from '@ferry/runtime/source-map';
import type { Sql } from '../db/connect.ts';
import { createScripts, type ScriptRow } from '../deploy/scripts.ts';
import type { Logger } from '../logger.ts';

type TraceMap = ReturnType<typeof readSourceMap>;

// Bounded by the maps' text (a parsed map takes a few times that): small maps, many kept.
const MAX_CACHED_MAPS = 64;
const MAX_CACHED_MAP_CHARS = 4 * 1024 * 1024;
const cached = new Map<string, { map: TraceMap; chars: number }>();
let cachedChars = 0;

async function mapFor(sql: Sql, script: Pick<ScriptRow, 'id' | 'hash'>): Promise<TraceMap> {
  const hit = cached.get(script.hash);
  if (hit) return hit.map;
  const text = await createScripts(sql).sourceMap(script.id);
  const entry = { map: readSourceMap(text), chars: text?.length ?? 0 };
  cached.set(script.hash, entry);
  cachedChars += entry.chars;
  // Oldest first: a Map iterates in insertion order.
  for (const [key, old] of cached) {
    if (cached.size <= MAX_CACHED_MAPS && cachedChars <= MAX_CACHED_MAP_CHARS) break;
    if (old === entry) break;
    cached.delete(key);
    cachedChars -= old.chars;
  }
  return entry.map;
}

export async function locateScriptError(deps: { sql: Sql; logger: Logger }, script: Pick<ScriptRow, 'id' | 'hash'>, error: RunError): Promise<RunError> {
  if (typeof error.stack !== 'string') return error;
  try {
    return locateRunError(error, await mapFor(deps.sql, script));
  } catch (err) {
    deps.logger.warn({ err, scriptId: script.id }, 'could not map a run error to the script source');
    return error;
  }
}

/** Log lines that hold a stack of the bundle (a logged Error) with it mapped; the others as they are. */
export async function locateLogStacks(deps: { sql: Sql; logger: Logger }, script: Pick<ScriptRow, 'id' | 'hash'>, entries: LogEntry[]): Promise<LogEntry[]> {
  if (!entries.some((e) => e.message.includes(BUNDLE_URL))) return entries;
  try {
    return mapLogStacks(entries, await mapFor(deps.sql, script));
  } catch (err) {
    deps.logger.warn({ err, scriptId: script.id }, 'could not map a logged stack to the script source');
    return entries;
  }
}

