/**
 * The README's quick start, as a newcomer follows it: after `npm start`, they paste the banner's
 * `export FERRY_URL=… FERRY_SECRET_KEY=…` line and run the README's curl commands as written.
 * Here the commands are read from the README itself, expanded with the variables the banner's
 * own export line (cli/host-banner.ts) sets, and sent to a whole host with the demo set up as
 * `npm start` sets it up; each must answer what the README says it reads. (They once used a
 * `$KEY` that nothing set: the request went without a key and answered 401.)
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { hostBanner } from '../../cli/host-banner.ts';
import { setUpDemoWithScripts } from '../../cli/demo.ts';
import { DEMO_CONNECTION_ID, type DemoSetup } from '../../host/demo.ts';
import { createLogger } from '../../host/logger.ts';
import { codeBlocks, curlRequest, docSection, exportedVariables, shellCommands, shellWords } from '../helpers/docs.ts';
import { startTestFerry, TEST_SECRET_KEY, waitForRun, type TestFerry } from '../helpers/ferry.ts';

let ferry: TestFerry;
let demo: DemoSetup;

beforeAll(async () => {
  ferry = await startTestFerry();
  demo = await setUpDemoWithScripts({ url: ferry.url, secretKey: TEST_SECRET_KEY, logger: createLogger({ level: 'silent' }), scriptsDir: fileURLToPath(new URL('../../scripts', import.meta.url)) });
  await waitForRun(ferry.api, DEMO_CONNECTION_ID, 'contacts', '0', 60_000);
}, 120_000);
afterAll(async () => {
  await demo?.close();
  await ferry?.close();
});

/** What each README command must answer, by path. */
const EXPECTED: Record<string, (body: any) => void> = {
  '/records': (body) => expect(body.records).toHaveLength(5),
  '/runs': (body) => expect(body.runs[0]).toMatchObject({ connection_id: DEMO_CONNECTION_ID, status: 'succeeded' }),
  '/connect/sessions': (body) => expect(body.connect_url).toMatch(/\/connect\?session_token=/),
};

test("the quick start's curl commands answer as the README says, with the variables the banner's export line sets", async () => {
  const banner = hostBanner('Ferry', { secretKey: TEST_SECRET_KEY, embedded: true }, ferry.url, '.ferry');
  const env = exportedVariables(banner.find((line) => line.trim().startsWith('export '))!.trim());
  const commands = codeBlocks(await docSection('README.md', '## Quick start'), 'sh').flatMap(shellCommands).filter((c) => c.startsWith('curl '));
  expect(commands).toHaveLength(Object.keys(EXPECTED).length);
  for (const command of commands) {
    const request = curlRequest(shellWords(command, env));
    const response = await fetch(request.url, { method: request.method, headers: request.headers, ...(request.body !== undefined && { body: request.body }) });
    const body = await response.json();
    expect(response.status, command).toBeLessThan(300);
    const check = EXPECTED[new URL(request.url).pathname];
    if (!check) throw new Error(`the README runs ${command}: say here what it answers`);
    check(body);
  }
});
