/**
 * A failed run's stack mapped from the bundle back to the script's own source files, so its error
 * reads `scripts/demo/syncs/contacts.ts:12:7` and not `file:///script.js:1:93353`. The stack is
 * text the script's isolate produced: a script can throw anything, fake `at` lines, or a stack of
 * any size. So only a bounded prefix and a bounded number of frames are read, a frame only maps
 * through the map deployed with the bundle, a map that does not parse maps nothing, and nothing
 * here throws: a failure leaves the error as it was.
 */
import { TraceMap, decodedMappings, originalPositionFor } from '@jridgewell/trace-mapping';
import { z } from 'zod';
import { BUNDLE_URL, formatLocation, type LogEntry, type RunError, type SourceLocation } from './contract.ts';

/** Largest source map a bundle may carry (the deploy request holds every bundle and map). */
export const MAX_SOURCE_MAP_BYTES = 1024 * 1024;
/** How much of a stack is read, and how many of its frames are mapped. */
const MAX_STACK_CHARS = 16 * 1024;
const MAX_MAPPED_FRAMES = 100;

/** What a map must hold to be used: version 3, its sources and its mappings. */
export const SourceMapSchema = z.object({
  version: z.literal(3),
  sources: z.array(z.string().max(1024)).max(10_000),
  names: z.array(z.string()).max(100_000).default([]),
  mappings: z.string().regex(/^[A-Za-z0-9+/,;]*$/, 'mappings are base64 VLQ segments'),
});
export type SourceMap = z.infer<typeof SourceMapSchema>;

/** Why `text` is not a usable source map, or null when it is. */
export function sourceMapProblem(text: string): string | null {
  if (Buffer.byteLength(text) > MAX_SOURCE_MAP_BYTES) return `a source map is at most ${MAX_SOURCE_MAP_BYTES} bytes`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'the source map is not JSON';
  }
  const parsed = SourceMapSchema.safeParse(value);
  if (!parsed.success) return `the source map is not a version 3 map: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
  let lines: ReturnType<typeof decodedMappings>;
  try {
    lines = decodedMappings(new TraceMap(parsed.data));
  } catch (error) {
    return `the source map does not decode: ${error instanceof Error ? error.message : String(error)}`;
  }
  // The decoder is lenient: a segment must name a source the map has and a position that exists.
  const sources = parsed.data.sources.length;
  for (const [line, segments] of lines.entries()) {
    for (const segment of segments) {
      const [column, source, sourceLine, sourceColumn] = segment;
      const valid = column >= 0 && (segment.length === 1 || (source! >= 0 && source! < sources && sourceLine! >= 0 && sourceColumn! >= 0));
      if (!valid) return `the source map's mappings are invalid at generated line ${line + 1}`;
    }
  }
  return null;
}

/** A map ready to look positions up in, or null for a missing or unusable one. */
export function readSourceMap(text: string | null | undefined): TraceMap | null {
  if (typeof text !== 'string' || sourceMapProblem(text) !== null) return null;
  return new TraceMap(SourceMapSchema.parse(JSON.parse(text)));
}

// `file:///script.js:<line>:<col>`; the digits are bounded so a hostile stack cannot make them huge.
const FRAME = new RegExp(`${BUNDLE_URL.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:(\\d{1,9}):(\\d{1,9})`, 'g');
const AT_LINE = /^\s*at\s/;

export interface MappedStack {
  stack: string;
  /** The first frame (below the message) that maps into the script's own files. */
  location: SourceLocation | null;
}

/** `stack` with every bundle position that maps replaced by `file:line:col` of the source. */
export function mapStack(stack: string, map: TraceMap, message = ''): MappedStack {
  const head = stack.slice(0, MAX_STACK_CHARS);
  // The message may itself hold lines that look like frames: the location is looked for below it.
  const at = message ? head.indexOf(message) : -1;
  const framesFrom = at >= 0 ? at + message.length : 0;
  let mapped = 0;
  let location: SourceLocation | null = null;
  let offset = 0;
  const lines = head.split('\n').map((line) => {
    const lineStart = offset;
    offset += line.length + 1;
    if (mapped >= MAX_MAPPED_FRAMES) return line;
    return line.replace(FRAME, (frame, lineText: string, columnText: string) => {
      if (mapped >= MAX_MAPPED_FRAMES) return frame;
      mapped++;
      // V8's columns are 1-based; the map's are 0-based.
      const position = originalPositionFor(map, { line: Number(lineText), column: Math.max(0, Number(columnText) - 1) });
      if (typeof position.source !== 'string') return frame;
      const found = { file: position.source, line: position.line, column: position.column + 1 };
      if (!location && lineStart >= framesFrom && AT_LINE.test(line)) location = found;
      return formatLocation(found);
    });
  });
  // Source paths are longer than the bundle's positions: the result keeps the input's bound.
  return { stack: (lines.join('\n') + stack.slice(MAX_STACK_CHARS)).slice(0, MAX_STACK_CHARS), location };
}

/** The error with its stack mapped and its location set, or as it was when nothing maps. */
export function locateRunError(error: RunError, map: TraceMap | null): RunError {
  if (!map || typeof error.stack !== 'string') return error;
  try {
    const { stack, location } = mapStack(error.stack, map, error.message);
    return { ...error, stack, ...(location && { location }) };
  } catch {
    return error;
  }
}

/**
 * Log lines that hold a stack of the bundle (a script logging the Error it caught) with it mapped
 * to the script's files; the others, and every line when there is no map, as they are.
 */
export function locateLogStacks(entries: LogEntry[], map: TraceMap | null): LogEntry[] {
  if (!map || !entries.some((e) => e.message.includes(BUNDLE_URL))) return entries;
  return entries.map((e) => {
    if (!e.message.includes(BUNDLE_URL)) return e;
    try {
      return { ...e, message: mapStack(e.message, map).stack };
    } catch {
      return e;
    }
  });
}
