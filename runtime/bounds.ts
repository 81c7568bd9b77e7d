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
  return walkJson(value, maxDepth, () => null)?.path ?? null;
}

/**
 * Why `value` is not data as JSON.parse makes it, or null: nested deeper than `maxDepth`, or
 * holding what JSON has no form for — an object that is neither plain nor an array (a Map, Set,
 * Date, typed array, boxed string…), a BigInt, a symbol, NaN or ±Infinity. A worker child's
 * values (output, metadata, payloads) are always JSON.parse's, so anything else came from a
 * child that broke the protocol; the host would have stored `{}` for a Map, `null` for NaN,
 * thrown on a BigInt, or walked a typed array's every byte as a key.
 */
export function notJsonData(value: unknown, maxDepth = MAX_DEPTH): string | null {
  const found = walkJson(value, maxDepth, unlikeJson);
  if (found === null) return null;
  const where = found.path.length > 0 ? ` (at ${found.path.join('.')}${found.path.length >= 5 ? '…' : ''})` : '';
  return found.problem === null ? `nested deeper than ${maxDepth} levels${where}` : `${found.problem}${where}`;
}

function unlikeJson(value: unknown): string | null {
  switch (typeof value) {
    case 'number': return Number.isFinite(value) ? null : `${String(value)} is not a JSON number`;
    case 'bigint': case 'symbol': case 'function': return `a ${typeof value} is not JSON data`;
    case 'object': {
      if (value === null || Array.isArray(value)) return null;
      const proto: unknown = Object.getPrototypeOf(value);
      return proto === Object.prototype || proto === null ? null : `a ${Object.prototype.toString.call(value).slice(8, -1)} is not JSON data`;
    }
    default: return null;
  }
}

/**
 * The first value `problem` names, or the first object or array nested deeper than `maxDepth`
 * (problem null), with the first five keys of its path. Iterative, so any depth is safe. Arrays
 * are walked by index, as JSON.stringify and every schema read them: properties set beside an
 * array's items (which V8's serializer carries) are not data, and a child could share one object
 * under them 2^40 ways in a few hundred bytes (runtime/channel.ts).
 */
function walkJson(value: unknown, maxDepth: number, problem: (value: unknown) => string | null): { path: string[]; problem: string | null } | null {
  const first = problem(value);
  if (first !== null) return { path: [], problem: first };
  if (value === null || typeof value !== 'object') return null;
  const stack: Array<{ value: object; depth: number; path: string[] }> = [{ value, depth: 1, path: [] }];
  const visit = (child: unknown, key: string | number, depth: number, path: string[]): { path: string[]; problem: string | null } | null => {
    const wrong = problem(child);
    if (wrong !== null) return { path: path.length < 5 ? [...path, String(key)] : path, problem: wrong };
    if (child !== null && typeof child === 'object') stack.push({ value: child, depth: depth + 1, path: path.length < 5 ? [...path, String(key)] : path });
    return null;
  };
  while (stack.length > 0) {
    const { value: node, depth, path } = stack.pop()!;
    if (depth > maxDepth) return { path: path.slice(0, 5), problem: null };
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const found = visit(node[i], i, depth, path);
        if (found) return found;
      }
      continue;
    }
    for (const key of Object.keys(node)) {
      const found = visit((node as Record<string, unknown>)[key], key, depth, path);
      if (found) return found;
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
