/** TextEncoder and TextDecoder (UTF-8 only, as the Encoding Standard's TextEncoder is). */
import { RangeErrorCtor, StringCtor, TypeErrorCtor, defineGlobal } from '../builtins.ts';

const Uint8 = Uint8Array;
const ArrayBufferCtor = ArrayBuffer;
const isView = ArrayBuffer.isView;
const fromCharCode = String.fromCharCode;
const REPLACEMENT = 0xfffd;

/** UTF-8 of `text`, with lone surrogates as U+FFFD (USVString conversion). */
function encodeUtf8(text: string, out: Uint8Array | null): { bytes: number[] | null; read: number; written: number } {
  const bytes: number[] | null = out ? null : [];
  let written = 0;
  let read = 0;
  const put = (b: number) => {
    if (bytes) bytes.push(b);
    else out![written] = b;
    written++;
  };
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    let units = 1;
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
        units = 2;
      }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = REPLACEMENT;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (out && written + size > out.length) break;
    if (size === 1) put(cp);
    else if (size === 2) {
      put(0xc0 | (cp >> 6));
      put(0x80 | (cp & 0x3f));
    } else if (size === 3) {
      put(0xe0 | (cp >> 12));
      put(0x80 | ((cp >> 6) & 0x3f));
      put(0x80 | (cp & 0x3f));
    } else {
      put(0xf0 | (cp >> 18));
      put(0x80 | ((cp >> 12) & 0x3f));
      put(0x80 | ((cp >> 6) & 0x3f));
      put(0x80 | (cp & 0x3f));
    }
    read += units;
    i += units - 1;
  }
  return { bytes, read, written };
}

class TextEncoder {
  get encoding(): 'utf-8' {
    return 'utf-8';
  }
  encode(input: string = ''): Uint8Array {
    return new Uint8(encodeUtf8(StringCtor(input), null).bytes!);
  }
  encodeInto(source: string, destination: Uint8Array): { read: number; written: number } {
    if (!(destination instanceof Uint8)) throw new TypeErrorCtor('TextEncoder.encodeInto: destination must be a Uint8Array');
    const { read, written } = encodeUtf8(StringCtor(source), destination);
    return { read, written };
  }
}

const UTF8_LABELS = ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8', 'x-unicode20utf8'];

function toBytes(input: unknown): Uint8Array {
  if (input === undefined) return new Uint8(0);
  if (input instanceof ArrayBufferCtor) return new Uint8(input);
  if (isView(input)) return new Uint8(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeErrorCtor('TextDecoder.decode: input must be an ArrayBuffer or a view of one');
}

/** The Encoding Standard's UTF-8 decoder, state kept across `stream: true` calls. */
class TextDecoder {
  readonly #fatal: boolean;
  readonly #ignoreBOM: boolean;
  #codePoint = 0;
  #needed = 0;
  #seen = 0;
  #lower = 0x80;
  #upper = 0xbf;
  #bomChecked = false;

  constructor(label: string = 'utf-8', options: { fatal?: boolean; ignoreBOM?: boolean } = {}) {
    if (!UTF8_LABELS.includes(StringCtor(label).trim().toLowerCase())) {
      throw new RangeErrorCtor(`TextDecoder: the encoding "${StringCtor(label)}" is not supported (only utf-8 is)`);
    }
    this.#fatal = options.fatal === true;
    this.#ignoreBOM = options.ignoreBOM === true;
  }
  get encoding(): string {
    return 'utf-8';
  }
  get fatal(): boolean {
    return this.#fatal;
  }
  get ignoreBOM(): boolean {
    return this.#ignoreBOM;
  }

  decode(input?: ArrayBuffer | ArrayBufferView, options: { stream?: boolean } = {}): string {
    const bytes = toBytes(input);
    const points: number[] = [];
    let text = '';
    const flush = () => {
      if (points.length) text += fromCharCode(...points.splice(0));
    };
    const emit = (cp: number) => {
      if (cp > 0xffff) {
        cp -= 0x10000;
        points.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
      } else points.push(cp);
      if (points.length > 8192) flush();
    };
    const error = () => {
      if (this.#fatal) {
        this.#reset();
        throw new TypeErrorCtor('TextDecoder: the encoded data was not valid utf-8');
      }
      emit(REPLACEMENT);
    };
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      if (this.#needed === 0) {
        if (byte <= 0x7f) emit(byte);
        else if (byte >= 0xc2 && byte <= 0xdf) {
          this.#needed = 1;
          this.#codePoint = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) this.#lower = 0xa0;
          if (byte === 0xed) this.#upper = 0x9f;
          this.#needed = 2;
          this.#codePoint = byte & 0xf;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) this.#lower = 0x90;
          if (byte === 0xf4) this.#upper = 0x8f;
          this.#needed = 3;
          this.#codePoint = byte & 0x7;
        } else error();
        continue;
      }
      if (byte < this.#lower || byte > this.#upper) {
        this.#resetSequence();
        error();
        i--; // the byte starts over
        continue;
      }
      this.#lower = 0x80;
      this.#upper = 0xbf;
      this.#codePoint = (this.#codePoint << 6) | (byte & 0x3f);
      if (++this.#seen !== this.#needed) continue;
      const cp = this.#codePoint;
      this.#resetSequence();
      emit(cp);
    }
    if (!options.stream) {
      if (this.#needed !== 0) {
        this.#resetSequence();
        error();
      }
    }
    flush();
    if (!this.#bomChecked && text.length > 0) {
      this.#bomChecked = true;
      if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (!options.stream) this.#bomChecked = false;
    return text;
  }

  #resetSequence(): void {
    this.#codePoint = this.#needed = this.#seen = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }
  #reset(): void {
    this.#resetSequence();
    this.#bomChecked = false;
  }
}

export function installText(): void {
  defineGlobal('TextEncoder', TextEncoder satisfies typeof globalThis.TextEncoder);
  defineGlobal('TextDecoder', TextDecoder satisfies typeof globalThis.TextDecoder);
}
