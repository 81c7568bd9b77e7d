/**
 * Start-up shared by the tests whose worker children misbehave on cue (a preload built on
 * test/fixtures/worker-cues.ts): a host whose children run the preload, and one action, `cue`,
 * that logs the cue it is given (the preload's trigger), waits for that log line to reach the
 * host, and returns { finished: true }. Without a cue it is a plain run.
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { deploySources, startTestFerry, startTestFerryWithWorkerPreload, type ApiResponse, type TestFerry } from './ferry.ts';

const CUE_ACTION = `
import { createAction } from 'ferry/sdk';
const anything = { safeParse: (value: unknown) => ({ success: true as const, data: value }) };
export default createAction({
  description: 'cues its worker to misbehave',
  input: anything,
  output: anything,
  exec: async (nango, input: any) => {
    if (input.cue) nango.log(input.cue);
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { finished: true };
  },
});`;

export interface CueFerry {
  ferry: TestFerry;
  /** Runs the action (synchronously, on connection c1), cueing `cue` if given. */
  run(cue?: string): Promise<ApiResponse>;
  close(): Promise<void>;
}

/**
 * `preload` is a fixture path relative to test/fixtures. `everyChild`: the children that replace
 * the ones a cue ends run it too (NODE_OPTIONS is kept until close), not only the first ones.
 */
export async function startCueFerry(preload: string, options: { everyChild?: boolean } = {}): Promise<CueFerry> {
  const path = fileURLToPath(new URL(`../fixtures/${preload}`, import.meta.url));
  const before = process.env.NODE_OPTIONS;
  const restore = () => {
    if (before === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = before;
  };
  let ferry: TestFerry;
  if (options.everyChild) {
    process.env.NODE_OPTIONS = `${before ?? ''} --import=${path}`.trim();
    try {
      ferry = await startTestFerry();
    } catch (err) {
      restore();
      throw err;
    }
  } else {
    ferry = await startTestFerryWithWorkerPreload(path);
  }
  const close = async () => {
    await ferry.close();
    if (options.everyChild) restore();
  };
  try {
    await deploySources(ferry, { 'plain/actions/cue.ts': CUE_ACTION });
    expect((await ferry.api.put('/providers/plain', { base_url: 'http://127.0.0.1:9', auth: { type: 'none' } })).status).toBe(200);
    expect((await ferry.api.post('/connections', { connection_id: 'c1', provider: 'plain' })).status).toBe(201);
  } catch (err) {
    await close();
    throw err;
  }
  return { ferry, run: (cue) => ferry.api.post('/actions/cue', { connection_id: 'c1', input: cue ? { cue } : {} }), close };
}
