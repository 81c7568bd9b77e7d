/**
 * The end-to-end bench's sync script (bundled like a deploy, run in an isolate): saves
 * FERRY_BENCH_TOTAL contacts in pages of 1,000, one page in memory at a time.
 */
import { createSync } from 'ferry/sdk';
import { z } from 'zod';
import { contactRecord } from './contact-data.ts';

const Contact = z.looseObject({ id: z.string(), email: z.string(), first_name: z.string(), last_name: z.string() });

export default createSync({
  description: 'bench: 100k contacts',
  frequency: 'every day',
  models: { Contact },
  // 1M records is a long run on a loaded 2-core machine: the default 60 s of CPU is not a bench figure.
  limits: { cpuTimeMs: 30 * 60_000, wallTimeMs: 30 * 60_000 },
  exec: async (ctx) => {
    const total = Number((await ctx.getConnection()).connection_config.total ?? 100_000);
    for (let start = 0; start < total; start += 1000) {
      const page: Array<z.infer<typeof Contact>> = [];
      for (let n = start; n < Math.min(start + 1000, total); n++) page.push(contactRecord(n) as z.infer<typeof Contact>);
      await ctx.batchSave(page, 'Contact');
    }
  },
});
