/**
 * Built-ins captured when the prelude is evaluated in a fresh context, before the script's top
 * level can replace them. Everything the prelude calls later goes through these.
 */
export const global = globalThis as typeof globalThis & Record<string, unknown>;
export const stringify = JSON.stringify;
export const parse = JSON.parse;
export const { keys, defineProperty, freeze, getPrototypeOf } = Object;
export const ObjectPrototype = Object.prototype;
export const ArrayPrototype = Array.prototype;
export const DatePrototype = Date.prototype;
export const dateToJSON = Date.prototype.toJSON;
export const dateToISOString = Date.prototype.toISOString;
export const numberValueOf = Number.prototype.valueOf;
export const hasOwn = Object.prototype.hasOwnProperty;
export const isArray = Array.isArray;
export const PromiseCtor = Promise;
export const ErrorCtor = Error;
export const TypeErrorCtor = TypeError;
export const RangeErrorCtor = RangeError;
export const MapCtor = Map;
export const StringCtor = String;
export const stringIncludes = String.prototype.includes;
export const DateCtor = Date;
export const ReflectConstruct = Reflect.construct;

export const own = (object: unknown, key: PropertyKey): boolean => object != null && hasOwn.call(object, key);

/** Defines a global the way the platform's own are: writable, configurable, not enumerable. */
export function defineGlobal(name: string, value: unknown): void {
  defineProperty(global, name, { value, writable: true, configurable: true, enumerable: false });
}
