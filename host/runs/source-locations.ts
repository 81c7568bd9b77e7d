/**
 * Maps a failed run's error to the script's source through the map deployed with its bundle:
 * the recorded error's stack names the author's `file.ts:line:col` and `location` holds the
 * script's own frame. The map is read only for a failure with a stack, and parsed maps are kept
 * by bundle hash (a sync failing every minute parses its map once). Mapping never fails a run:
 * an unreadable map leaves the error as the runtime gave it.
 */
import type { RunError } from '@ferry/runtime/contract';
import { locateRunError, readSourceMap } from '@ferry/runtime/source-map';
import type { Sql } from '../db/connect.ts';
import { createScripts, type ScriptRow } from '../deploy/scripts.ts';
import type { Logger } from '../logger.ts';

type TraceMap = ReturnType<typeof readSourceMap>;

const MAX_CACHED_MAPS = 32;
const cached = new Map<string, TraceMap>();

async function mapFor(sql: Sql, script: Pick<ScriptRow, 'id' | 'hash'>): Promise<TraceMap> {
  if (cached.has(script.hash)) return cached.get(script.hash)!;
  const map = readSourceMap(await createScripts(sql).sourceMap(script.id));
  cached.set(script.hash, map);
  // Oldest first: a Map iterates in insertion order.
  for (const key of cached.keys()) {
    if (cached.size <= MAX_CACHED_MAPS) break;
    cached.delete(key);
  }
  return map;
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
