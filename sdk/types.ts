/**
 * The part of a zod schema Ferry relies on. Typed structurally so the SDK does not pin the
 * script's zod version: zod 3 and 4 both satisfy it.
 */
export interface ZodSchemaLike<T = unknown> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } };
  readonly _output?: T;
}

export type Infer<S> = S extends ZodSchemaLike<infer T> ? T : never;
export type ModelMap = Record<string, ZodSchemaLike<{ id: string | number }>>;
