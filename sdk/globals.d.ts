/**
 * The globals a script's isolate has beyond ECMAScript itself, declared for `ferry compile` (which
 * type-checks scripts with lib es2022 and these, no Node and no DOM) and for the in-isolate SDK
 * that implements them (runtime/worker/prelude/web/). What is not here is not in the isolate:
 * `fetch`, `Buffer`, `process`, `require`, `setImmediate`, WebAssembly.
 */
export {};

declare global {
  interface Console {
    log(...data: unknown[]): void;
    info(...data: unknown[]): void;
    warn(...data: unknown[]): void;
    error(...data: unknown[]): void;
    debug(...data: unknown[]): void;
    trace(...data: unknown[]): void;
  }
  var console: Console;

  function setTimeout<A extends unknown[]>(handler: (...args: A) => void, timeout?: number, ...args: A): number;
  function setInterval<A extends unknown[]>(handler: (...args: A) => void, timeout?: number, ...args: A): number;
  function clearTimeout(id: number | undefined): void;
  function clearInterval(id: number | undefined): void;
  function queueMicrotask(callback: () => void): void;

  type BufferSource = ArrayBufferView | ArrayBuffer;

  interface URLSearchParams {
    readonly size: number;
    append(name: string, value: string): void;
    delete(name: string, value?: string): void;
    get(name: string): string | null;
    getAll(name: string): string[];
    has(name: string, value?: string): boolean;
    set(name: string, value: string): void;
    sort(): void;
    toString(): string;
    forEach(callback: (value: string, key: string, parent: URLSearchParams) => void): void;
    entries(): IterableIterator<[string, string]>;
    keys(): IterableIterator<string>;
    values(): IterableIterator<string>;
    [Symbol.iterator](): IterableIterator<[string, string]>;
  }
  var URLSearchParams: {
    prototype: URLSearchParams;
    new (init?: string[][] | Record<string, string> | string | URLSearchParams): URLSearchParams;
  };

  interface URL {
    hash: string;
    host: string;
    hostname: string;
    href: string;
    readonly origin: string;
    password: string;
    pathname: string;
    port: string;
    protocol: string;
    search: string;
    readonly searchParams: URLSearchParams;
    username: string;
    toString(): string;
    toJSON(): string;
  }
  var URL: {
    prototype: URL;
    new (url: string | URL, base?: string | URL): URL;
    canParse(url: string | URL, base?: string | URL): boolean;
    parse(url: string | URL, base?: string | URL): URL | null;
  };

  interface TextEncoderEncodeIntoResult {
    read: number;
    written: number;
  }
  interface TextEncoder {
    readonly encoding: 'utf-8';
    encode(input?: string): Uint8Array;
    encodeInto(source: string, destination: Uint8Array): TextEncoderEncodeIntoResult;
  }
  var TextEncoder: { prototype: TextEncoder; new (): TextEncoder };

  interface TextDecoder {
    readonly encoding: string;
    readonly fatal: boolean;
    readonly ignoreBOM: boolean;
    decode(input?: BufferSource, options?: { stream?: boolean }): string;
  }
  var TextDecoder: { prototype: TextDecoder; new (label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean }): TextDecoder };

  function atob(data: string): string;
  function btoa(data: string): string;
  function structuredClone<T = any>(value: T, options?: { transfer?: unknown[] }): T;

  interface DOMException extends Error {
    readonly code: number;
    readonly message: string;
    readonly name: string;
  }
  var DOMException: { prototype: DOMException; new (message?: string, name?: string): DOMException };

  interface Event {
    readonly type: string;
    readonly target: EventTarget | null;
    readonly currentTarget: EventTarget | null;
    readonly defaultPrevented: boolean;
    readonly cancelable: boolean;
    readonly timeStamp: number;
    preventDefault(): void;
    stopPropagation(): void;
    stopImmediatePropagation(): void;
  }
  var Event: { prototype: Event; new (type: string, init?: { cancelable?: boolean }): Event };

  type EventListenerOrObject = ((event: Event) => void) | { handleEvent(event: Event): void };
  interface EventTarget {
    addEventListener(type: string, listener: EventListenerOrObject | null, options?: boolean | { once?: boolean; signal?: AbortSignal }): void;
    removeEventListener(type: string, listener: EventListenerOrObject | null): void;
    dispatchEvent(event: Event): boolean;
  }
  var EventTarget: { prototype: EventTarget; new (): EventTarget };

  interface AbortSignal extends EventTarget {
    readonly aborted: boolean;
    readonly reason: any;
    onabort: ((event: Event) => void) | null;
    throwIfAborted(): void;
  }
  var AbortSignal: {
    prototype: AbortSignal;
    abort(reason?: any): AbortSignal;
    timeout(milliseconds: number): AbortSignal;
    any(signals: Iterable<AbortSignal>): AbortSignal;
  };
  interface AbortController {
    readonly signal: AbortSignal;
    abort(reason?: any): void;
  }
  var AbortController: { prototype: AbortController; new (): AbortController };

  interface Crypto {
    getRandomValues<T extends Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array>(array: T): T;
    randomUUID(): `${string}-${string}-${string}-${string}-${string}`;
  }
  var crypto: Crypto;
}
