/**
 * The worker's side of the in-isolate SDK's `send(op, a, b)`: checks and caps what the script
 * asked for, forwards it to the host bridge in the parent, and answers with one string.
 * Rejections carry a code the SDK turns into the script's error.
 */
import { z } from 'zod';
import type { BridgeCall } from '../ipc.ts';
import { BatchResultSchema, PaginateAnswerSchema, PaginateStepSchema, ProxyResponseSchema, RecordsPageSchema } from '../ipc.ts';
import { LIST_RECORDS_PAGE, ProxyRequestSchema } from '../contract.ts';
import { CAPS } from '../caps.ts';
import { depthMessage, hasProtoKey, storableJsonText, tooDeepAt } from '../bounds.ts';
import { BatchError, buildRecordBatch } from './records.ts';

export class HostCallError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'HostCallError';
    this.code = code;
  }
}

export interface HostCallDeps {
  /** Sends one bridge call to the parent and resolves with the host's answer. */
  callParent(call: BridgeCall): Promise<unknown>;
  usage: { bridgeBytes: number; proxyCalls: number };
}

const StateSchema = z.record(z.string(), z.unknown());
const SetMetadataSchema = z.object({ metadata: StateSchema, merge: z.boolean() });

export interface HostCalls {
  handle(op: string, a: string, b: string): Promise<string>;
  /** Resolves when every call already handed to the host has settled. */
  settled(): Promise<void>;
  /** Cancels the run's pending timers and refuses further calls. */
  dispose(): void;
}

export function createHostCalls(deps: HostCallDeps): HostCalls {
  const sleeps = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<unknown>>();
  let disposed = false;

  /** A script's value for the host: JSON, within MAX_DEPTH, its text made storable (bounds.ts). */
  function parseArg<T>(schema: z.ZodType<T>, text: string, what: string, stored = false): T {
    let value: unknown;
    try {
      value = JSON.parse(storableJsonText(text));
    } catch {
      throw new HostCallError('INVALID_ARGUMENT', `${what} is not JSON`);
    }
    // Checked before the schema, whose copy would take the key for the copy's prototype.
    if (stored && hasProtoKey(value)) throw new HostCallError('INVALID_ARGUMENT', `${what}: a "__proto__" key is not accepted (it would be taken for the object's prototype, not kept as data)`);
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new HostCallError('INVALID_ARGUMENT', `${what}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    return parsed.data;
  }

  /** A script's value the host will store (metadata, a checkpoint): within MAX_DEPTH. */
  function bounded<T>(value: T, what: string): T {
    const deep = tooDeepAt(value);
    if (deep) throw new HostCallError('INVALID_ARGUMENT', depthMessage(what, deep));
    return value;
  }

  function capped(text: string, cap: number, what: string): void {
    if (text.length > cap || Buffer.byteLength(text) > cap) throw new HostCallError('PAYLOAD_TOO_LARGE', `${what} is over the ${cap}-byte cap`);
  }

  async function handleOp(op: string, a: string, b: string): Promise<string> {
    switch (op) {
      case 'sleep': {
        if (sleeps.size >= CAPS.timers) throw new HostCallError('PAYLOAD_TOO_LARGE', `more than ${CAPS.timers} live timers`);
        const ms = Math.min(Math.max(Number(a) || 0, 0), 2 ** 31 - 1);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            sleeps.delete(timer);
            resolve();
          }, ms);
          sleeps.add(timer);
        });
        return '';
      }
      case 'batch': {
        let built;
        try {
          built = buildRecordBatch(a, b);
        } catch (error) {
          if (error instanceof BatchError) throw new HostCallError(error.code, error.message);
          throw error;
        }
        const result = BatchResultSchema.parse(await deps.callParent({ method: 'saveRecords', batch: built.batch }));
        return JSON.stringify(result);
      }
      case 'proxy': {
        capped(a, CAPS.proxyRequestBytes, 'proxy request');
        const request = parseArg(ProxyRequestSchema, a, 'proxy request');
        deps.usage.proxyCalls++;
        const response = ProxyResponseSchema.parse(await deps.callParent({ method: 'proxy', request }));
        const text = JSON.stringify(response);
        capped(text, CAPS.proxyResponseBytes, 'proxy response');
        return text;
      }
      case 'getMetadata': {
        const metadata = StateSchema.parse(await deps.callParent({ method: 'getMetadata' }));
        return JSON.stringify(metadata);
      }
      case 'setMetadata': {
        capped(a, CAPS.stateBytes, 'metadata');
        const { metadata, merge } = parseArg(SetMetadataSchema, a, 'metadata', true);
        await deps.callParent({ method: 'setMetadata', metadata: bounded(metadata, 'metadata'), merge });
        return '';
      }
      case 'saveCheckpoint': {
        capped(a, CAPS.stateBytes, 'checkpoint');
        const checkpoint = bounded(parseArg(StateSchema.nullable(), a, 'checkpoint', true), 'checkpoint');
        await deps.callParent({ method: 'saveCheckpoint', checkpoint });
        return '';
      }
      case 'trackDeletes': {
        if (b !== 'start' && b !== 'end') throw new HostCallError('INVALID_ARGUMENT', 'trackDeletes phase must be start or end');
        await deps.callParent({ method: 'trackDeletes', model: a.slice(0, 200), phase: b });
        return '';
      }
      case 'listRecords': {
        const page = RecordsPageSchema.parse(await deps.callParent({ method: 'listRecords', model: a.slice(0, 200), cursor: b === '' ? null : b.slice(0, 100), limit: LIST_RECORDS_PAGE }));
        const text = JSON.stringify(page);
        capped(text, CAPS.proxyResponseBytes, 'listRecords page');
        return text;
      }
      case 'paginate': {
        capped(a, CAPS.proxyRequestBytes, 'paginate request');
        const step = parseArg(PaginateStepSchema, a, 'paginate request');
        const answer = PaginateAnswerSchema.parse(await deps.callParent({ method: 'paginate', step }));
        const text = JSON.stringify(answer);
        capped(text, CAPS.proxyResponseBytes, 'paginate page');
        return text;
      }
      default:
        throw new HostCallError('BRIDGE_ERROR', `unknown host call ${op}`);
    }
  }

  return {
    async handle(op, a, b) {
      if (disposed) throw new HostCallError('RUN_ENDED', 'the run has ended: host calls are refused');
      deps.usage.bridgeBytes += a.length + b.length;
      const pending = handleOp(op, a, b);
      // Timers are the script's own waiting, not host work a run's result must wait for.
      if (op !== 'sleep') {
        inFlight.add(pending);
        void pending.catch(() => {}).finally(() => inFlight.delete(pending));
      }
      const result = await pending;
      deps.usage.bridgeBytes += result.length;
      return result;
    },
    async settled() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    dispose() {
      disposed = true;
      for (const timer of sleeps) clearTimeout(timer);
      sleeps.clear();
    },
  };
}
