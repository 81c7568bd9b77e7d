/**
 * NaN and ±Infinity have no JSON form: JSON.stringify writes them as null, so a record holding
 * one would be stored with a null in its place. Only a record whose JSON text holds a null can
 * hide one; batch() asks nonFiniteReason about those.
 */
import { ArrayPrototype, DatePrototype, ObjectPrototype, StringCtor, dateToISOString, dateToJSON, getPrototypeOf, isArray, keys, numberValueOf, stringify } from './builtins.ts';

/** Deeper than this the plain walk leaves it to the exact one (records are capped at 100 levels). */
const PLAIN_DEPTH = 128;

/**
 * True when `value`, walked as plain data, holds no NaN or ±Infinity: objects whose prototype is
 * Object.prototype (or none), arrays, Dates whose toJSON and toISOString are Date's, primitives. False when it holds
 * one, or anything JSON.stringify would first turn into something else (a toJSON of its own, a
 * boxed number, a class instance): the exact walk then decides. Most records are plain data, and
 * this costs a fraction of a second stringify with a replacer (bench/runtime/non-finite.ts).
 */
function plainAndFinite(value: unknown, depth: number): boolean {
  if (typeof value === 'number') return value - value === 0; // NaN - NaN and ∞ - ∞ are NaN
  if (typeof value !== 'object' || value === null) return true;
  if (depth > PLAIN_DEPTH) return false;
  const proto = getPrototypeOf(value);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  // Date's own toJSON gives its toISOString() (looked up on the date) or null, never a number.
  if (proto === DatePrototype) return toJSON === dateToJSON && (value as Date).toISOString === dateToISOString;
  if (toJSON !== undefined) return false;
  if (isArray(value)) {
    if (proto !== ArrayPrototype) return false;
    for (let i = 0; i < value.length; i++) if (!plainAndFinite(value[i], depth + 1)) return false;
    return true;
  }
  if (proto !== ObjectPrototype && proto !== null) return false;
  const names = keys(value);
  for (let i = 0; i < names.length; i++) if (!plainAndFinite((value as Record<string, unknown>)[names[i]!], depth + 1)) return false;
  return true;
}

/** What JSON.stringify writes for a Number object (one with [[NumberData]]: ToNumber of it), or null for anything else. */
function boxedNumber(value: unknown): number | null {
  if (value === null || typeof value !== 'object') return null;
  try {
    numberValueOf.call(value); // throws unless it is a Number object, whatever it claims to be
    return +(value as unknown as number);
  } catch {
    return null;
  }
}

/**
 * Why a record cannot be stored as the script gave it: the first NaN or ±Infinity in it (after
 * any toJSON, as JSON.stringify walks it), which JSON would silently store as null; null when
 * it has none. The replacer sees each value with its holder, so the ancestors kept by index
 * give its path (no array method a script could replace).
 */
export function nonFiniteReason(record: unknown): string | null {
  return plainAndFinite(record, 0) ? null : nonFiniteReasonAsStringified(record);
}

/** nonFiniteReason by the exact walk alone (exported for bench/runtime/non-finite.ts). */
export function nonFiniteReasonAsStringified(record: unknown): string | null {
  let found: string | null = null;
  const holders: unknown[] = [];
  const path: string[] = [];
  let depth = 0;
  stringify(record, function (this: unknown, key: string, value: unknown) {
    if (found !== null) return undefined;
    while (depth > 0 && holders[depth - 1] !== this) depth--;
    // The replacer sees a Number object before JSON.stringify unboxes it.
    const n = typeof value === 'number' ? value : boxedNumber(value);
    if (n !== null && n - n !== 0) {
      let at = '';
      for (let i = 1; i < depth; i++) at += path[i] + '.';
      found = `${at}${key}: ${StringCtor(n)} is not a JSON number (it would be stored as null): save null, or the value as a string`;
      return undefined;
    }
    if (value !== null && typeof value === 'object') {
      holders[depth] = value;
      path[depth] = key;
      depth++;
    }
    return value;
  });
  return found;
}
