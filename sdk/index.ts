/**
 * What a Ferry script imports. Shaped after Nango's zero-yaml `createSync`/`createAction` so a
 * Nango script ports by changing its import (`from 'nango'` → `from 'ferry/sdk'`; the bundler
 * also maps `nango` here, so even that is optional).
 *
 * This module runs inside the isolate as part of the script's bundle: it imports nothing of
 * Ferry and nothing of Node. `createSync`/`createAction` only describe a script; the context
 * object handed to `exec` is built by the runtime.
 */
export type { ZodSchemaLike } from './types.ts';
export type {
  ActionContext,
  ConnectionInfo,
  LogLevel,
  NangoAction,
  NangoSync,
  PaginateConfig,
  ProxyConfiguration,
  ProxyResponse,
  SplitContext,
  SyncContext,
} from './context.ts';
export { ActionError, NonRetryableError, RetryAfterError, isFerryError } from './errors.ts';
export { createAction, createSync, type ActionContextWith, type ActionDefinition, type SyncDefinition } from './define.ts';
