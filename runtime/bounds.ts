/**
 * Two rules for values that come from outside (a script's values, a request's JSON), applied
 * wherever they enter: how deep they may nest, and what becomes of text Postgres cannot hold.
 *
 * Depth: objects and arrays nest at most MAX_DEPTH levels. V8's structured-clone deserializer and
 * JSON.stringify recurse, so a value 2,000 levels deep would throw (or take a process down) far
 * from where it came in; refused where it enters, it is a clear error for that one call. Records
 * cross as JSON text, so their depth is measured on the text (jsonDepthChecker).
 *
 * Text: script text stored in Postgres (log lines, error messages, metadata, checkpoints, records)
 * has NUL (U+0000), which Postgres text and jsonb refuse, and lone surrogates, which have no UTF-8
 * form, replaced with U+FFFD — what UTF-8 encoding itself does with a lone surrogate — so a run
 * always settles and one bad line never costs its neighbours.
 */

export const MAX_DEPTH = 100;

/**
 * The path to the first object or array nested deeper than `maxDepth` (a top-level object or
 * array is depth 1), or null when `value` is within bounds. Iterative: any depth is safe to measure.
 */
export function tooDeepAt(value: unknown, maxDepth = MAX_DEPTH): string[] | null {
  if (value === null || typeof value !== 'object') return null;
  const stack: Array<{ value: object; depth: number; path: string[] }> = [{ value, depth: 1, path: [] }];
  while (stack.length > 0) {
    const { value: node, depth, path } = stack.pop()!;
    if (depth > maxDepth) return path.slice(0, 5);
    for (const [key, child] of Object.entries(node)) {
      if (child !== null && typeof child === 'object') stack.push({ value: child, depth: depth + 1, path: path.length < 5 ? [...path, key] : path });
    }
  }
  return null;
}

/**
 * True when `value` has a "__proto__" key at any depth. JSON.parse makes it an own key, but a copy
 * by assignment (zod's records, Object.assign) takes it for the copy's prototype: the key is lost
 * and the copy inherits what it held. Stored script values (metadata, checkpoints) refuse it, as
 * the API does (host/api/request-bounds.ts); records, which cross as text, keep it as data.
 */
export function hasProtoKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: object[] = [value];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (Object.hasOwn(node, '__proto__')) return true;
    for (const child of Object.values(node)) if (child !== null && typeof child === 'object') stack.push(child);
  }
  return false;
}

/** "metadata.a.b…" for messages; a depth error names where the value became too deep. */
export function depthMessage(what: string, path: string[], maxDepth = MAX_DEPTH): string {
  const where = path.length > 0 ? ` (at ${[what, ...path].join('.')}${path.length >= 5 ? '…' : ''})` : '';
  return `${what} is nested deeper than ${maxDepth} levels${where}`;
}

const UNSTORABLE = /[\u0000\ud800-\udfff]/;

/** `text` with NUL and lone surrogates replaced by U+FFFD (the same string when it has none). */
export function storableText(text: string): string {
  if (!UNSTORABLE.test(text)) return text;
  return text.toWellFormed().replaceAll('\u0000', '\ufffd');
}

/**
 * A \u0000 or surrogate escape after an even run of backslashes (so itself an escape); a high
 * surrogate escape takes the low one after it along, so a valid pair can be told apart and kept.
 */
const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(0000|[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?|[dD][c-fC-F][0-9a-fA-F]{2})/g;

/** JSON text with NUL and lone surrogates, raw or escaped, replaced as storableText does. */
export function storableJsonText(json: string): string {
  const text = storableText(json);
  if (!text.includes('\\u')) return text;
  return text.replace(UNSTORABLE_ESCAPE, (match, backslashes: string, escape: string) => (escape.length === 10 ? match : `${backslashes}\\ufffd`));
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The depth rule for JSON text that crosses unparsed (a batch's records, runtime/worker/records.ts):
 * a checker over one text holding many JSON values, asked in order for spans of it, each answer
 * true when that span nests deeper than `maxDepth`. A value with at most `maxDepth` brackets (`{`
 * or `[`, in strings too) cannot nest deeper, so most are settled by counting brackets with native
 * indexOf, two cursors that only move forward through the whole text (each bracket is found once,
 * and no search runs to the end of a value that has none left); only a value with more brackets is
 * scanned character by character. Any depth is safe to measure: nothing recurses.
 */
export function jsonDepthChecker(text: string, maxDepth = MAX_DEPTH): (start: number, end: number) => boolean {
  let brace = text.indexOf('{');
  let bracket = text.indexOf('[');
  return (start, end) => {
    if (brace !== -1 && brace < start) brace = text.indexOf('{', start);
    if (bracket !== -1 && bracket < start) bracket = text.indexOf('[', start);
    let brackets = 0;
    while (brace !== -1 && brace < end && brackets <= maxDepth) {
      brackets++;
      brace = text.indexOf('{', brace + 1);
    }
    while (bracket !== -1 && bracket < end && brackets <= maxDepth) {
      brackets++;
      bracket = text.indexOf('[', bracket + 1);
    }
    return brackets > maxDepth && nestsDeeper(text, start, end, maxDepth);
  };
}

/** True when the JSON text in [start, end) opens more than `maxDepth` objects/arrays at once (strings skipped). */
function nestsDeeper(text: string, start: number, end: number, maxDepth: number): boolean {
  let depth = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < end; i++) {
        const s = text.charCodeAt(i);
        if (s === BACKSLASH) i++;
        else if (s === QUOTE) break;
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}
