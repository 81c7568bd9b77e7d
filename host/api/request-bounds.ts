/**
 * The one rule every route applies at the edge, to its params, query and JSON body alike, before
 * its own schema: objects and arrays nest at most MAX_DEPTH levels (deeper JSON used to reach
 * JSON.stringify or V8's serializer and come back as a 500), and no string — key or value — holds
 * a NUL, which Postgres refuses, or a lone surrogate, which has no UTF-8 form. Size is bounded
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

/** The first place `value` breaks the rule, or null. Iterative: any depth is safe to walk. */
export function requestValueIssue(value: unknown, path: string[]): RequestValueIssue | null {
  const stack: Array<{ value: unknown; depth: number; path: string[] }> = [{ value, depth: 0, path }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (typeof node.value === 'string') {
      const issue = textIssue(node.value);
      if (issue) return { path: node.path, message: issue };
      continue;
    }
    if (node.value === null || typeof node.value !== 'object') continue;
    const depth = node.depth + 1;
    if (depth > MAX_DEPTH) return { path: node.path.slice(0, path.length + 5), message: `nested deeper than ${MAX_DEPTH} levels` };
    for (const [key, child] of Object.entries(node.value)) {
      const issue = textIssue(key);
      if (issue) return { path: [...node.path, key], message: `key ${issue}` };
      stack.push({ value: child, depth, path: node.path.length < path.length + 5 ? [...node.path, key] : node.path });
    }
  }
  return null;
}
