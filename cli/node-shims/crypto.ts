/**
 * What `import … from 'crypto'` (or `node:crypto`) gives a script: the part of Node's crypto
 * module Nango scripts use, in pure JavaScript bundled into the scripts that import it (hashes
 * and HMACs from @noble/hashes, audited), over the isolate's own `crypto.randomUUID` and
 * `crypto.getRandomValues`. Nothing of the host is reached. Nango's runner hands scripts Node's
 * whole module; what is not here (ciphers, signing, KeyObject) fails at `ferry compile` by name.
 */
import { Buffer } from 'buffer';
import { hmac } from '@noble/hashes/hmac.js';
import { md5, sha1 } from '@noble/hashes/legacy.js';
import { sha224, sha256, sha384, sha512 } from '@noble/hashes/sha2.js';

type Encoding = 'utf8' | 'utf-8' | 'hex' | 'base64' | 'base64url' | 'latin1' | 'binary' | 'ascii' | 'ucs2' | 'ucs-2' | 'utf16le' | 'utf-16le';
type Data = string | ArrayBufferView;
interface Incremental {
  update(data: Uint8Array): Incremental;
  digest(): Uint8Array;
}

const HASHES = { md5, sha1, sha224, sha256, sha384, sha512 };
type Algorithm = keyof typeof HASHES;

/** Node's names for them, case-insensitive, with or without the dash (`SHA-256`, `sha256`, `RSA-SHA256`). */
function hashNamed(name: unknown): (typeof HASHES)[Algorithm] {
  const key = typeof name === 'string' ? name.toLowerCase().replace(/^rsa-/, '').replace('-', '') : '';
  const hash = HASHES[key as Algorithm];
  if (!hash) throw new Error(`Digest method not supported: ${String(name)} (Ferry's isolate has ${Object.keys(HASHES).join(', ')})`);
  return hash;
}

function bytesOf(data: unknown, encoding: Encoding | undefined, what: string): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, encoding ?? 'utf8');
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`The "${what}" argument must be of type string or an instance of Buffer, TypedArray, or DataView`);
}

/** Node's Hash and Hmac objects: update as often as needed, then one digest (a Buffer, or text in an encoding). */
class Digest {
  readonly #state: Incremental;
  #done = false;
  constructor(state: Incremental) {
    this.#state = state;
  }
  update(data: Data, inputEncoding?: Encoding): this {
    if (this.#done) throw new Error('Digest already called');
    this.#state.update(bytesOf(data, inputEncoding, 'data'));
    return this;
  }
  digest(): Buffer;
  digest(encoding: Encoding): string;
  digest(encoding?: Encoding): Buffer | string {
    if (this.#done) throw new Error('Digest already called');
    this.#done = true;
    const bytes = Buffer.from(this.#state.digest());
    return encoding === undefined ? bytes : bytes.toString(encoding);
  }
}

export type Hash = Digest;
export type Hmac = Digest;

export function createHash(algorithm: string): Hash {
  return new Digest(hashNamed(algorithm).create());
}

export function createHmac(algorithm: string, key: Data): Hmac {
  return new Digest(hmac.create(hashNamed(algorithm), bytesOf(key, undefined, 'key')));
}

export function getHashes(): string[] {
  return Object.keys(HASHES);
}

/** Web Crypto caps one getRandomValues call at 65,536 bytes: larger asks are filled in turns. */
const RANDOM_CHUNK = 65_536;

export function randomBytes(size: number): Buffer;
export function randomBytes(size: number, callback: (error: Error | null, bytes: Buffer) => void): void;
export function randomBytes(size: number, callback?: (error: Error | null, bytes: Buffer) => void): Buffer | void {
  if (!Number.isInteger(size) || size < 0 || size > 2 ** 31 - 1) throw new RangeError(`The "size" argument must be an integer from 0 to 2147483647. Received ${String(size)}`);
  const bytes = Buffer.alloc(size);
  for (let at = 0; at < size; at += RANDOM_CHUNK) globalThis.crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + RANDOM_CHUNK)));
  if (!callback) return bytes;
  setTimeout(() => callback(null, bytes), 0);
}

export function randomUUID(): string {
  return globalThis.crypto.randomUUID();
}

export function getRandomValues<T extends ArrayBufferView | null>(array: T): T {
  return globalThis.crypto.getRandomValues(array as never) as T;
}

export function timingSafeEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const x = bytesOf(a, undefined, 'buf1');
  const y = bytesOf(b, undefined, 'buf2');
  if (x.length !== y.length) throw new RangeError('Input buffers must have the same byte length');
  let difference = 0;
  for (let i = 0; i < x.length; i++) difference |= x[i]! ^ y[i]!;
  return difference === 0;
}

/** `crypto.webcrypto`: the isolate's Web Crypto, which has no `subtle`. */
export const webcrypto = globalThis.crypto;

export default { createHash, createHmac, getHashes, randomBytes, randomUUID, getRandomValues, timingSafeEqual, webcrypto };
