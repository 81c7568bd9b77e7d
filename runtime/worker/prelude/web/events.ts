/** Event, EventTarget, AbortController and AbortSignal, as the DOM Standard defines them for one target. */
import { MapCtor, TypeErrorCtor, defineGlobal } from '../builtins.ts';
import { domException } from './standard.ts';

type Listener = EventListenerOrObject;
type EventLike = globalThis.Event;
type SignalLike = globalThis.AbortSignal;

class EventImpl {
  readonly type: string;
  readonly cancelable: boolean;
  readonly timeStamp = Date.now();
  #defaultPrevented = false;
  #stopped = false;
  #target: globalThis.EventTarget | null = null;
  constructor(type: string, init: { cancelable?: boolean } = {}) {
    if (arguments.length === 0) throw new TypeErrorCtor("Event: the 'type' argument is required");
    this.type = String(type);
    this.cancelable = init.cancelable === true;
  }
  get target(): globalThis.EventTarget | null {
    return this.#target;
  }
  get currentTarget(): globalThis.EventTarget | null {
    return this.#target;
  }
  get defaultPrevented(): boolean {
    return this.#defaultPrevented;
  }
  preventDefault(): void {
    if (this.cancelable) this.#defaultPrevented = true;
  }
  stopPropagation(): void {}
  stopImmediatePropagation(): void {
    this.#stopped = true;
  }
  static dispatching(event: EventImpl, target: globalThis.EventTarget): () => boolean {
    event.#target = target;
    return () => event.#stopped;
  }
}

interface Registration {
  listener: Listener;
  once: boolean;
}

class EventTargetImpl {
  readonly #listeners = new MapCtor<string, Registration[]>();

  addEventListener(type: string, listener: Listener | null, options?: boolean | { once?: boolean; signal?: SignalLike }): void {
    if (listener == null) return;
    const once = typeof options === 'object' && options !== null && options.once === true;
    const signal = typeof options === 'object' && options !== null ? options.signal : undefined;
    if (signal?.aborted) return;
    const list = this.#listeners.get(type) ?? [];
    if (list.some((r) => r.listener === listener)) return;
    list.push({ listener, once });
    this.#listeners.set(type, list);
    signal?.addEventListener('abort', () => this.removeEventListener(type, listener));
  }

  removeEventListener(type: string, listener: Listener | null): void {
    const list = this.#listeners.get(type);
    if (!list) return;
    const at = list.findIndex((r) => r.listener === listener);
    if (at >= 0) list.splice(at, 1);
  }

  dispatchEvent(event: EventLike): boolean {
    if (!(event instanceof EventImpl)) throw new TypeErrorCtor('EventTarget.dispatchEvent: the argument must be an Event');
    const stopped = EventImpl.dispatching(event, this);
    const handler = (this as { onabort?: unknown }).onabort;
    const list = [...(this.#listeners.get(event.type) ?? [])];
    if (event.type === 'abort' && typeof handler === 'function') list.unshift({ listener: handler as Listener, once: false });
    for (const registration of list) {
      if (registration.once) this.removeEventListener(event.type, registration.listener);
      const { listener } = registration;
      try {
        if (typeof listener === 'function') listener.call(this, event);
        else listener.handleEvent(event);
      } catch (error) {
        // As in a browser: a throwing listener is reported and does not stop the others.
        queueMicrotask(() => {
          throw error;
        });
      }
      if (stopped()) break;
    }
    return !event.defaultPrevented;
  }
}

const CREATE = Symbol('create');
// Set by AbortSignal's static block: how the controller makes and aborts its signal.
let createSignal: () => AbortSignalImpl;
let abortSignal: (signal: AbortSignalImpl, reason: unknown) => void;

class AbortSignalImpl extends EventTargetImpl {
  #aborted = false;
  #reason: unknown = undefined;
  onabort: ((event: EventLike) => void) | null = null;

  constructor(token?: symbol) {
    if (token !== CREATE) throw new TypeErrorCtor('Illegal constructor');
    super();
  }
  get aborted(): boolean {
    return this.#aborted;
  }
  get reason(): unknown {
    return this.#reason;
  }
  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }
  static abort(reason?: unknown): AbortSignalImpl {
    const signal = new AbortSignalImpl(CREATE);
    signal.#abort(reason);
    return signal;
  }
  static timeout(milliseconds: number): AbortSignalImpl {
    const signal = new AbortSignalImpl(CREATE);
    setTimeout(() => signal.#abort(new (domException())('The operation was aborted due to timeout', 'TimeoutError')), milliseconds);
    return signal;
  }
  static any(signals: Iterable<SignalLike>): AbortSignalImpl {
    const result = new AbortSignalImpl(CREATE);
    for (const signal of signals) {
      if (signal.aborted) {
        result.#abort(signal.reason);
        return result;
      }
    }
    for (const signal of signals) signal.addEventListener('abort', () => result.#abort(signal.reason), { once: true });
    return result;
  }
  static {
    createSignal = () => new AbortSignalImpl(CREATE);
    abortSignal = (signal, reason) => signal.#abort(reason);
  }
  #abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason === undefined ? new (domException())('This operation was aborted', 'AbortError') : reason;
    this.dispatchEvent(new EventImpl('abort'));
  }
}

class AbortControllerImpl {
  readonly #signal = createSignal();
  get signal(): AbortSignalImpl {
    return this.#signal;
  }
  abort(reason?: unknown): void {
    abortSignal(this.#signal, reason);
  }
}

function named<T extends abstract new (...args: never[]) => unknown>(ctor: T, name: string): T {
  Object.defineProperty(ctor, 'name', { value: name });
  Object.defineProperty(ctor.prototype, Symbol.toStringTag, { value: name, configurable: true });
  return ctor;
}

export function installEvents(): void {
  // Defined under the standard names (their `name` and `toString` say Event, AbortSignal, …).
  defineGlobal('Event', named(EventImpl, 'Event') satisfies typeof globalThis.Event);
  defineGlobal('EventTarget', named(EventTargetImpl, 'EventTarget') satisfies typeof globalThis.EventTarget);
  defineGlobal('AbortSignal', named(AbortSignalImpl, 'AbortSignal') satisfies typeof globalThis.AbortSignal);
  defineGlobal('AbortController', named(AbortControllerImpl, 'AbortController') satisfies typeof globalThis.AbortController);
}
