import type { ActionContext, SyncContext } from './context.ts';
import type { Infer, ModelMap, ZodSchemaLike } from './types.ts';

type ModelsOf<M extends ModelMap> = { [K in keyof M]: Infer<M[K]> };

export interface SyncDefinition<M extends ModelMap = ModelMap> {
  type: 'sync';
  description: string;
  version?: string;
  /** "every 30 minutes", "every hour", "every day"… */
  frequency: string;
  syncType?: 'full' | 'incremental';
  autoStart?: boolean;
  trackDeletes?: boolean;
  endpoints?: ReadonlyArray<{ method: string; path: string; group?: string }>;
  models: M;
  metadata?: ZodSchemaLike;
  /** Per-run limits; the host's defaults apply where absent. */
  limits?: { memoryMb?: number; wallTimeMs?: number; cpuTimeMs?: number };
  exec: (ctx: SyncContext<ModelsOf<M>>) => Promise<void>;
}

export interface ActionDefinition<I extends ZodSchemaLike = ZodSchemaLike, O extends ZodSchemaLike = ZodSchemaLike> {
  type: 'action';
  description: string;
  version?: string;
  endpoint?: { method: string; path: string; group?: string };
  input: I;
  output: O;
  scopes?: string[];
  limits?: { memoryMb?: number; wallTimeMs?: number; cpuTimeMs?: number };
  exec: (ctx: ActionContext, input: Infer<I>) => Promise<Infer<O>>;
}

export function createSync<M extends ModelMap>(definition: Omit<SyncDefinition<M>, 'type'>): SyncDefinition<M> {
  return { ...definition, type: 'sync' };
}

export function createAction<I extends ZodSchemaLike, O extends ZodSchemaLike>(
  definition: Omit<ActionDefinition<I, O>, 'type'>,
): ActionDefinition<I, O> {
  return { ...definition, type: 'action' };
}
