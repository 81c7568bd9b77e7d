/**
 * `crypto.getRandomValues` and `crypto.randomUUID`. Random bytes come from the worker's CSPRNG
 * through a synchronous host callback that takes a byte count (capped as Web Crypto caps it)
 * and returns hex text, so nothing but a string crosses.
 */
import { StringCtor, defineGlobal, freeze } from '../builtins.ts';
import { domException } from './standard.ts';

export type RandomFn = (bytes: number) => string;

const MAX_BYTES = 65_536;
const integerArrays = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array];
const Uint8 = Uint8Array;
const parseHex = parseInt;

export function installCrypto(random: RandomFn): void {
  function fill(view: Uint8Array): void {
    const hex = StringCtor(random(view.length));
    for (let i = 0; i < view.length; i++) view[i] = parseHex(hex.slice(i * 2, i * 2 + 2), 16);
  }
  const crypto = {
    getRandomValues<T extends ArrayBufferView>(array: T): T {
      if (!integerArrays.some((Ctor) => array instanceof Ctor)) {
        throw new (domException())('crypto.getRandomValues: the argument must be an integer-typed array', 'TypeMismatchError');
      }
      if (array.byteLength > MAX_BYTES) {
        throw new (domException())(`crypto.getRandomValues: ${array.byteLength} bytes asked, over the ${MAX_BYTES}-byte limit`, 'QuotaExceededError');
      }
      fill(new Uint8(array.buffer, array.byteOffset, array.byteLength));
      return array;
    },
    randomUUID(): `${string}-${string}-${string}-${string}-${string}` {
      const bytes = new Uint8(16);
      fill(bytes);
      bytes[6] = (bytes[6]! & 0x0f) | 0x40;
      bytes[8] = (bytes[8]! & 0x3f) | 0x80;
      let hex = '';
      for (const byte of bytes) hex += (byte < 16 ? '0' : '') + byte.toString(16);
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    },
  };
  defineGlobal('crypto', freeze(crypto) satisfies typeof globalThis.crypto);
}
