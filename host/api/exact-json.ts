/**
 * JSON as the API takes it: parsed, and refused when a number in it cannot be kept as sent.
 * JSON.parse reads every number as a 64-bit float, and what Ferry stores and passes on is that
 * float written back: 9223372036854775808 (2^63) became 9223372036854776000, 1e400 became
 * Infinity and then null, 0.1000000000000000055511151231257827 became 0.1. A sync platform must
 * not change a value silently, so such a number is a 400 naming where it is (send it as a
 * string); a number whose float writes back as the same decimal (1.0, 1E2, -0) is kept.
 */

export interface InexactNumber {
  /** Keys from the root to the number. */
  path: string[];
  /** The number as sent (cut to 100 characters). */
  sent: string;
  /** What it would have become. */
  kept: string;
}

/**
 * A number that a float holds exactly enough to write back has at most 17 significant digits
 * and an exponent of at most two digits, bar denormals and the edges: text with neither a run of
 * 16 digits nor a 3-digit exponent cannot hold an inexact one, and is parsed without a reviver.
 */
const MAYBE_INEXACT = /\d{16}|[eE][+-]?\d{3}/;
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** A JSON number literal as sign, digits and exponent, without leading or trailing zeros: equal texts, equal numbers. */
function canonical(text: string): string {
  const m = DECIMAL.exec(text);
  if (!m) return text;
  const fraction = m[3] ?? '';
  const digits = (m[2]! + fraction).replace(/^0+/, '');
  if (digits === '') return '0';
  const significant = digits.replace(/0+$/, '');
  const exponent = BigInt(m[4] ?? '0') - BigInt(fraction.length) + BigInt(digits.length - significant.length);
  return `${m[1]}${significant}e${exponent}`;
}

/** True when `value`, written back as JSON, is the decimal `source` denotes. */
function keptExactly(source: string, value: number): boolean {
  return Number.isFinite(value) && canonical(source) === canonical(String(value));
}

/** The keys from `root` to `holder[key]` (breadth-first: only ever walked for a refusal). */
function pathTo(root: unknown, holder: object, key: string): string[] {
  if (root === holder) return [key];
  const queue: Array<{ node: object; path: string[] }> = [{ node: root as object, path: [] }];
  while (queue.length > 0) {
    const { node, path } = queue.shift()!;
    for (const [k, child] of Object.entries(node)) {
      if (child === holder) return [...path, k, key];
      if (child !== null && typeof child === 'object') queue.push({ node: child, path: [...path, k] });
    }
  }
  return [key];
}

/** Parses JSON text (throws SyntaxError as JSON.parse does) and names the first number it cannot keep exactly. */
export function parseExactJson(text: string): { value: unknown; inexact: InexactNumber | null } {
  if (!MAYBE_INEXACT.test(text)) return { value: JSON.parse(text), inexact: null };
  let found: { holder: object; key: string; sent: string; kept: string } | null = null;
  const value: unknown = JSON.parse(text, function (this: object, key, parsed: unknown, context?: { source?: string }) {
    if (found === null && typeof parsed === 'number' && context?.source !== undefined && !keptExactly(context.source, parsed)) {
      found = { holder: this, key, sent: context.source, kept: JSON.stringify(parsed) };
    }
    return parsed;
  });
  if (found === null) return { value, inexact: null };
  const { holder, key, sent, kept } = found as { holder: Record<string, unknown>; key: string; sent: string; kept: string };
  // A number at the root is held by JSON.parse's wrapper {"": root}, found nowhere in the value.
  const atRoot = key === '' && Object.is(holder[key], value);
  const path = atRoot ? [] : pathTo(value, holder, key);
  return { value, inexact: { path, sent: sent.length > 100 ? `${sent.slice(0, 100)}…` : sent, kept } };
}

/** The refusal's message: what was sent, what it would have become, and what to do. */
export function inexactMessage(n: InexactNumber): string {
  return `the number ${n.sent} cannot be kept exactly (as a 64-bit float it would be ${n.kept}): send it as a string`;
}
