/**
 * A FinalizationRegistry callback is the one piece of script code V8 itself may call after the
 * run ended (a warm isolate is collected later, with the run's context possibly still alive). The
 * prelude runs the script's callbacks only while its run lives. GC cannot be forced from a
 * script, so this test installs the real prelude in an isolate of its own and collects garbage on
 * demand from a separate context (V8's --expose-gc, set for this file's process only).
 */
import v8 from 'node:v8';
import ivm from 'isolated-vm';
import { afterAll, expect, test } from 'vitest';
import { createIsolateSource, type IsolateLease } from '../../runtime/worker/isolates.ts';
import { installPrelude } from '../../runtime/worker/sandbox.ts';
import { bundle, job } from '../runtime/helpers.ts';
import { syncScript } from './harness.ts';

v8.setFlagsFromString('--expose-gc');

let lease: IsolateLease | undefined;
afterAll(() => lease?.release(false));

test("a finalizer runs while its run lives, and the script's callback is not called once the run has ended", async () => {
  const code = await bundle(syncScript(`
    const registry = new FinalizationRegistry((held) => { globalThis.finalized.push(held); });
    globalThis.finalized = [];
    globalThis.registry = registry;
    globalThis.afterToken = {};
    (() => registry.register({}, 'during'))();
    await ctx.getMetadata(); // the host collects garbage while the script waits
    await ctx.getMetadata(); // a task later: the cleanup of 'during' has run
    (() => registry.register({}, 'after', globalThis.afterToken))();
  `));
  lease = createIsolateSource({ mode: 'fresh', onCatastrophicError() {} }).acquire({ code, memoryMb: 64 });
  const { isolate } = lease;
  const context = isolate.createContextSync();
  const gcContext = isolate.createContextSync();
  expect(gcContext.evalSync('typeof gc')).toBe('function');
  const collect = () => gcContext.evalSync('gc()');

  // The prelude installed as the sandbox does, with callbacks answering getMetadata.
  let deliver: ivm.Reference | undefined;
  const send = new ivm.Callback((id: number, op: string) => {
    if (op !== 'getMetadata') throw new Error(`unexpected host call ${op}`);
    collect();
    setImmediate(() => void deliver!.apply(undefined, [id, true, '{}']));
  }, { ignored: true });
  const log = new ivm.Callback(() => {}, { ignored: true });
  const entries = installPrelude(lease, context, send, log);
  deliver = entries.deliver;
  await (await lease.script()).run(context);
  const { kind, context: runContext } = job(code);
  const envelope = await entries.run.apply(undefined, [JSON.stringify({ kind, context: runContext })], { result: { promise: true, copy: true } });
  expect(JSON.parse(String(envelope))).toEqual({ ok: true, output: 'null' });
  expect(context.evalSync('JSON.stringify(finalized)')).toBe('["during"]');

  // The run has ended and its context is still alive: 'after' is collected now, and its cleanup
  // is called on the isolate's next task.
  collect();
  await gcContext.eval('1');
  // The registration is gone: V8 did call the cleanup for it ...
  expect(context.evalSync('registry.unregister(afterToken)')).toBe(false);
  // ... and the script's callback was not run.
  expect(context.evalSync('JSON.stringify(finalized)')).toBe('["during"]');
});
