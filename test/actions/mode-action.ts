/** An action that reads the items provider's `/mode` once (no retries) and returns it with its input: one provider call per run, countable. */
export const MODE_ACTION = `
import { createAction } from 'ferry/sdk';
import { z } from 'zod';
export default createAction({
  description: 'reads the provider mode once and returns it',
  input: z.object({ n: z.number() }),
  output: z.object({ mode: z.string(), n: z.number() }),
  exec: async (nango, input) => {
    const res = await nango.get<{ mode: string }>({ endpoint: '/mode', retries: 0 });
    return { mode: res.data.mode, n: input.n };
  },
});`;
