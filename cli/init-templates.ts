/**
 * The files `ferry init` writes: a scripts project with one incremental sync and one action for
 * the demo CRM (so `ferry dev --demo` runs them at once), a test that replays recorded
 * responses, and a tsconfig. `ferry/sdk`, `ferry/testing` and `zod` resolve from the project's
 * node_modules (package.json depends on them), never through paths into a Ferry checkout.
 */
import { PROVIDED } from './node-shims.ts';

export function initTemplates(): Record<string, string> {
  return {
    'scripts/demo/models.ts': `import { z } from 'zod';

export const ContactSchema = z.object({
  id: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  email: z.string(),
  company: z.string().nullable(),
  updated_at: z.string(),
});
export type Contact = z.infer<typeof ContactSchema>;

export const NewContactSchema = z.object({
  first_name: z.string().min(1),
  last_name: z.string().min(1),
  email: z.email(),
  company: z.string().optional(),
});
`,
    'scripts/demo/syncs/contacts.ts': `/**
 * Contacts from the demo CRM, incrementally: the first run reads everything, later runs only
 * what changed since the last successful run. One page is saved before the next is fetched.
 * The file name is the sync's name; the folder above syncs/ is the provider.
 */
import { createSync } from 'ferry/sdk';
import { ContactSchema, type Contact } from '../models.ts';

export default createSync({
  description: 'Contacts from the demo CRM',
  frequency: 'every 5 minutes',
  syncType: 'incremental',
  models: { Contact: ContactSchema },
  exec: async (ctx) => {
    let cursor: string | null = null;
    do {
      const params: Record<string, string | number> = { limit: 100 };
      if (ctx.lastSyncDate) params['updated_since'] = ctx.lastSyncDate.toISOString();
      if (cursor) params['cursor'] = cursor;
      const { data } = await ctx.get<{ data: Contact[]; next_cursor: string | null }>({ endpoint: '/v1/contacts', params });
      await ctx.batchSave(data.data, 'Contact');
      cursor = data.next_cursor;
    } while (cursor);
  },
});
`,
    'scripts/demo/actions/create-contact.ts': `/** Creates a contact in the demo CRM (write-back) and returns it as stored. */
import { ActionError, createAction } from 'ferry/sdk';
import { ContactSchema, NewContactSchema, type Contact } from '../models.ts';

export default createAction({
  description: 'Create a contact in the demo CRM',
  input: NewContactSchema,
  output: ContactSchema,
  exec: async (ctx, input) => {
    try {
      // retries: 0 — a retried POST could create the contact twice.
      const { data } = await ctx.post<{ data: Contact }>({ endpoint: '/v1/contacts', data: input, retries: 0 });
      return data.data;
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status === undefined) throw error;
      throw new ActionError({ type: 'provider_rejected', message: \`the CRM answered HTTP \${status}\` });
    }
  },
});
`,
    'scripts/demo/syncs/contacts.test.ts': `/**
 * Runs the sync in Ferry's real runtime with the provider's answers replayed from a fixture.
 * The one init wrote is two small pages; record the demo CRM's real answers (with
 * \`ferry dev --demo\` running) to replace it:
 *   npx ferry dryrun contacts --connection demo-connection --save
 */
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createScriptTester, readFixture } from 'ferry/testing';

const FIXTURE = join(import.meta.dirname, '../fixtures/contacts.json');
const tester = createScriptTester();
afterAll(() => tester.close());

it('saves every contact the CRM answered, page after page', async () => {
  const fixture = await readFixture(FIXTURE);
  const run = await tester.run({ script: join(import.meta.dirname, 'contacts.ts'), fixture });
  expect(run.error).toBeUndefined();
  const answered = fixture.exchanges.flatMap((e) => (e.response.json as { data: Array<{ id: string }> }).data);
  expect(answered.length).toBeGreaterThan(0);
  expect(run.records('Contact').map((c) => c.id)).toEqual(answered.map((c) => c.id));
});
`,
    // Two pages in the demo CRM's shape, so the test above runs (and means something) right after init.
    'scripts/demo/fixtures/contacts.json': `${JSON.stringify(initContactsFixture(), null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify({
      compilerOptions: {
        target: 'es2022',
        lib: ['es2022'],
        module: 'esnext',
        moduleResolution: 'bundler',
        strict: true,
        noEmit: true,
        allowImportingTsExtensions: true,
        skipLibCheck: true,
        types: [],
        // The Node built-ins the bundler gives scripts (Buffer, crypto's hashes, url), as `ferry compile` checks them.
        paths: Object.fromEntries(Object.keys(PROVIDED).flatMap((name) => [name, `node:${name}`].map((specifier) => [specifier, [`./node_modules/@ferry/cli/node-shims/${name}`]]))),
      },
      // The isolate's globals (URL, TextEncoder, timers, crypto…) and the Buffer global: scripts use them without importing anything.
      include: ['scripts', 'node_modules/@ferry/sdk/globals.d.ts', 'node_modules/@ferry/cli/node-shims/globals.d.ts'],
      exclude: ['scripts/**/*.test.ts'],
    }, null, 2)}\n`,
    '.gitignore': '.ferry/\nnode_modules/\n',
    'README.md': `# Integration scripts

\`\`\`sh
npm install               # once: ferry, zod and vitest
npx ferry dev --demo      # Ferry on an embedded database, demo providers connected, redeploys on save
npx ferry dryrun contacts --connection demo-connection            # run it, save nothing
npx ferry dryrun contacts --connection demo-connection --save     # also record the test's fixture (init wrote a small one)
npm test                  # the tests next to the scripts (vitest), in Ferry's real runtime
npx ferry compile         # type-check and bundle, errors at file:line
npx ferry deploy          # to a running Ferry (FERRY_URL, FERRY_SECRET_KEY)
\`\`\`

Scripts live in \`scripts/<provider>/syncs/<name>.ts\` and \`scripts/<provider>/actions/<name>.ts\`.
`,
  };
}

/** What a scripts project's package.json needs; `ferry init` adds each entry the project lacks. */
export function projectManifest(versions: { ferry: string; zod: string }) {
  return {
    dependencies: { ferry: `^${versions.ferry}`, zod: versions.zod },
    devDependencies: { vitest: VITEST_RANGE },
    scripts: { test: 'vitest run', typecheck: 'ferry compile' },
    allowScripts: INSTALL_SCRIPTS,
  };
}

/**
 * npm's install-script policy for what `ferry` installs, as this repository's own package.json
 * has it: isolated-vm (loads its prebuilt binary, or builds one), esbuild (checks its platform
 * binary) and node (the Node 24 a project on an older Node installs, see the README) run theirs;
 * core-js-pure's only prints a banner. Without it npm 11 runs them anyway but lists each as
 * unreviewed on every install, and `strict-allow-scripts` fails the install.
 */
const INSTALL_SCRIPTS: Record<string, boolean> = { 'isolated-vm': true, esbuild: true, node: true, 'core-js-pure': false };

/** The vitest the example test was written for. */
const VITEST_RANGE = '^5.1.1';

function initContactsFixture() {
  const contact = (n: number, company: string | null) => ({
    id: `ct_example_${n}`, first_name: `Ada${n}`, last_name: 'Example', email: `ada${n}@example.com`, company, updated_at: `2026-01-0${n}T00:00:00.000Z`,
  });
  const page = (params: Record<string, string>, data: unknown[], next: string | null) => ({
    request: { method: 'GET', endpoint: '/v1/contacts', params },
    response: { status: 200, headers: { 'content-type': 'application/json' }, json: { data, next_cursor: next } },
  });
  return {
    version: 1, script: 'contacts', provider: 'demo', kind: 'sync', recorded_at: '2026-01-04T00:00:00.000Z',
    context: { lastSyncDate: null, checkpoint: null, full: false, metadata: null },
    exchanges: [
      page({ limit: '100' }, [contact(1, 'Acme'), contact(2, null)], 'page-2'),
      page({ cursor: 'page-2', limit: '100' }, [contact(3, 'Initech')], null),
    ],
  };
}
