/**
 * Messages between the supervisor (parent) and a worker child. Both sides validate what they
 * receive: a child runs hostile code, so the parent trusts nothing it says beyond these shapes.
 */
import { z } from 'zod';
import { notJsonData } from './bounds.ts';
import { checkPackedRecords } from './packed-records.ts';
import { LogEntrySchema, ProxyRequestSchema, RunErrorSchema, RunJobSchema, UsageSchema } from './contract.ts';

/** A batch as it crosses from the worker: its records packed (packed-records.ts), checked whole. */
export const PackedBatchSchema = z.object({
  op: z.enum(['save', 'update', 'delete']),
  model: z.string(),
  records: z.object({
    ids: z.array(z.string()),
    hashes: z.string(),
    json: z.instanceof(Uint8Array),
    ends: z.instanceof(Uint32Array),
  }).superRefine((packed, ctx) => {
    const problem = checkPackedRecords(packed);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
  }),
  rejected: z.array(z.object({ id: z.string().nullable(), reason: z.string() })),
  rejectedCount: z.number().int().nonnegative().optional(),
});
export type PackedBatch = z.infer<typeof PackedBatchSchema>;

export const BatchResultSchema = z.object({
  added: z.number(),
  updated: z.number(),
  unchanged: z.number(),
  deleted: z.number(),
  rejected: z.number(),
});

export { ProxyResponseSchema } from './contract.ts';

/** A script's value (metadata, output, payload) as the parent accepts it: JSON data, within MAX_DEPTH (bounds.ts). */
function jsonData(value: unknown, ctx: z.RefinementCtx): void {
  const problem = notJsonData(value);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
}
const BoundedValueSchema = z.unknown().superRefine(jsonData);
const StateSchema = z.record(z.string(), z.unknown()).superRefine(jsonData);

/** A step of a walk the host pages (contract.ts PaginateStep). */
export const PaginateStepSchema = z.union([
  z.object({ config: StateSchema, onPage: z.boolean() }),
  z.object({ walk: z.string().max(100), close: z.boolean().optional() }),
]);

/** What a child may ask of the host bridge, with each method's arguments. */
export const BridgeCallSchema = z.discriminatedUnion('method', [
  z.object({ method: z.literal('saveRecords'), batch: PackedBatchSchema }),
  z.object({ method: z.literal('proxy'), request: ProxyRequestSchema }),
  z.object({ method: z.literal('getMetadata') }),
  z.object({ method: z.literal('setMetadata'), metadata: StateSchema, merge: z.boolean() }),
  z.object({ method: z.literal('saveCheckpoint'), checkpoint: StateSchema.nullable() }),
  z.object({ method: z.literal('trackDeletes'), model: z.string().max(200), phase: z.enum(['start', 'end']) }),
  z.object({ method: z.literal('listRecords'), model: z.string().max(200), cursor: z.string().max(100).nullable(), limit: z.number().int().min(1).max(1000) }),
  z.object({ method: z.literal('paginate'), step: PaginateStepSchema }),
]);

/** What the host answers a paginate step with (contract.ts PaginateAnswer). */
export const PaginateAnswerSchema = z.union([
  z.object({ inScript: z.literal(true) }),
  z.object({ walk: z.string().max(100), done: z.boolean(), page: BoundedValueSchema.optional(), onPage: z.array(BoundedValueSchema) }),
]);

/** What the host answers a listRecords call with. */
export const RecordsPageSchema = z.object({ records: z.array(StateSchema), next: z.string().max(100).nullable() });
export type BridgeCall = z.infer<typeof BridgeCallSchema>;

/** A run result before the parent attaches the logs it has received. */
export const ChildResultSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), output: BoundedValueSchema, usage: UsageSchema }),
  z.object({ ok: z.literal(false), error: RunErrorSchema.extend({ payload: BoundedValueSchema.optional() }), usage: UsageSchema }),
]);
export type ChildResult = z.infer<typeof ChildResultSchema>;

export const DescribeResultSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), manifest: BoundedValueSchema }),
  z.object({ ok: z.literal(false), error: RunErrorSchema.extend({ payload: BoundedValueSchema.optional() }) }),
]);

export const ChildMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('logs'), taskId: z.string(), entries: z.array(LogEntrySchema) }),
  z.object({ type: z.literal('heap'), taskId: z.string(), bytes: z.number().nonnegative() }),
  z.object({ type: z.literal('bridge-call'), taskId: z.string(), callId: z.number().int(), call: BridgeCallSchema }),
  z.object({ type: z.literal('result'), taskId: z.string(), result: ChildResultSchema }),
  z.object({ type: z.literal('described'), taskId: z.string(), result: DescribeResultSchema }),
]);
export type ChildMessage = z.infer<typeof ChildMessageSchema>;

/**
 * Bundles a worker child keeps by hash (most recently used last), so the parent sends a bundle
 * once per child and afterwards only its hash. Both sides apply the same rule to the same
 * ordered run messages (`rememberBundle`), so the parent knows exactly which bundles a child has.
 */
export const BUNDLES_PER_CHILD = 8;

/** Moves `hash` to the most recent end of `hashes`, dropping the oldest beyond the cap. */
export function rememberBundle<T>(bundles: Map<string, T>, hash: string, value: T): void {
  bundles.delete(hash);
  bundles.set(hash, value);
  for (const oldest of bundles.keys()) {
    if (bundles.size <= BUNDLES_PER_CHILD) break;
    bundles.delete(oldest);
  }
}

export const ParentMessageSchema = z.discriminatedUnion('type', [
  /** `job.code` is left out when the child already has the bundle of that sha256 `codeHash`. */
  z.object({ type: z.literal('run'), taskId: z.string(), job: RunJobSchema.extend({ code: z.string().optional() }), codeHash: z.string().regex(/^[0-9a-f]{64}$/) }),
  z.object({ type: z.literal('describe'), taskId: z.string(), code: z.string() }),
  z.object({ type: z.literal('abort'), taskId: z.string() }),
  z.object({
    type: z.literal('bridge-result'),
    callId: z.number().int(),
    ok: z.boolean(),
    value: z.unknown().optional(),
    error: z.string().optional(),
    /** A coded host error (e.g. RETRY_AFTER from the proxy) keeps its code and wait across. */
    code: z.string().optional(),
    retryAfterMs: z.number().optional(),
  }),
]);
export type ParentMessage = z.input<typeof ParentMessageSchema>;
