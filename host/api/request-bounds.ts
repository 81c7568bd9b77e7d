/**
 * The one rule every route applies at the edge, to its params, query and JSON body alike, before
 * its own schema: objects and arrays nest at most MAX_DEPTH levels (deeper JSON used to reach
 * JSON.stringify or V8's serializer and come back as a 500), and no string — key or value — holds
 * a NUL, which Postgres refuses, or a lone surrogate, which has no UTF-8 form, and no key is
 * "__proto__" (below). Size is bounded
 * before this: a body over 8 MiB is a 413 (app.ts).
 */
import { MAX_DEPTH } from '@ferry/runtime/contract';

export interface RequestValueIssue {
  path: string[];
  message: string;
}

const NUL_OR_SURROGATE = /[\u0000\ud800-\udfff]/;

function textIssue(text: string): string | null {
  if (!NUL_OR_SURROGATE.test(text)) return null;
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000)';
  return text.isWellFormed() ? null : 'contains a lone surrogate (not valid Unicode)';
}

/**
 * JSON.parse makes "__proto__" an own key, but every copy by assignment (zod's records and
 * objects, Object.assign) takes it for the copy's prototype: the key was silently dropped from
 * metadata and action input, and what it held was inherited by the copy. Refused by name instead,
 * except where the value is never copied by a schema (`keepProtoKeys`: a signed webhook payload,
 * which a provider may legitimately send with such a key and which reaches the script as parsed).
 */
const PROTO_KEY = '__proto__';
const PROTO_ISSUE = '"__proto__" is not accepted (it would be taken for the object\'s prototype, not kept as data)';

/** An object or array still to walk: its parent and key stand in for its path until one is needed. */
interface Frame {
  value: object;
  depth: number;
  parent: Frame | null;
  key: string;
}

/** Paths name at most this many keys below the prefix: enough to find the field. */
const PATH_KEYS = 5;

function keysOf(frame: Frame): string[] {
  const keys: string[] = [];
  for (let f: Frame | null = frame; f?.parent; f = f.parent) keys.push(f.key);
  return keys.reverse();
}

/**
 * The first place `value` breaks the rule, or null. Iterative: any depth is safe to walk. It runs
 * on the event loop over bodies of up to 8 MiB, so it allocates only for objects and arrays (a
 * frame each, no path until an issue needs one) and walks arrays by index: a body holding an array
 * of 2M numbers took 8 s here (load ~15) when every element had its own path array and entry.
 */
export function requestValueIssue(value: unknown, path: string[], options: { keepProtoKeys?: boolean } = {}): RequestValueIssue | null {
  const refuseProto = options.keepProtoKeys !== true;
  if (typeof value === 'string') {
    const issue = textIssue(value);
    return issue ? { path, message: issue } : null;
  }
  if (value === null || typeof value !== 'object') return null;
  const at = (frame: Frame, key?: string) => [...path, ...[...keysOf(frame), ...(key === undefined ? [] : [key])].slice(0, PATH_KEYS)];
  const stack: Frame[] = [{ value, depth: 1, parent: null, key: '' }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.depth > MAX_DEPTH) return { path: at(frame), message: `nested deeper than ${MAX_DEPTH} levels` };
    const visit = (child: unknown, key: string): RequestValueIssue | null => {
      if (typeof child === 'string') {
        const issue = textIssue(child);
        return issue ? { path: at(frame, key), message: issue } : null;
      }
      if (child !== null && typeof child === 'object') stack.push({ value: child, depth: frame.depth + 1, parent: frame, key });
      return null;
    };
    if (Array.isArray(frame.value)) {
      const items: unknown[] = frame.value;
      for (let i = 0; i < items.length; i++) {
        const child = items[i];
        // Numbers, booleans and null (most of a big array) need nothing, not even their index as text.
        if (child === null || (typeof child !== 'string' && typeof child !== 'object')) continue;
        const issue = visit(child, String(i));
        if (issue) return issue;
      }
      continue;
    }
    const object = frame.value as Record<string, unknown>;
    for (const key of Object.keys(object)) {
      const keyIssue = key === PROTO_KEY && refuseProto ? PROTO_ISSUE : textIssue(key);
      if (keyIssue) return { path: [...at(frame), key], message: `key ${keyIssue}` };
      const issue = visit(object[key], key);
      if (issue) return issue;
    }
  }
  return null;
}
