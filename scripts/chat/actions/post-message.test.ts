/**
 * The post-message action in the real runtime: against the live demo chat tool (posted, and a
 * refusal as a typed ActionError) and replayed from a recorded response.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startDemoProvider, type DemoProvider } from '../../../demo/index.ts';
import { createScriptTester, liveProxy, readFixture } from '../../../testing/index.ts';

const SCRIPT = join(import.meta.dirname, 'post-message.ts');
const tester = createScriptTester();
let provider: DemoProvider;
afterAll(() => tester.close());

describe('post-message against the live demo chat tool', () => {
  beforeEach(async () => {
    provider = await startDemoProvider({ apiKey: 'chat-key', contacts: 1 });
  });
  afterEach(() => provider.close());
  const live = () => liveProxy({ baseUrl: provider.baseUrls.chat, headers: { authorization: 'Bearer chat-key' } });

  it('posts the message and returns where it landed', async () => {
    const run = await tester.run({ script: SCRIPT, proxy: live(), input: { channel: 'support', text: 'Deploy finished' } });
    expect(run.error).toBeUndefined();
    expect(run.output).toEqual({ channel: 'C0SUPPORT', ts: expect.stringMatching(/^\d+\.\d{6}$/), text: 'Deploy finished' });
    expect(provider.chat.messages('C0SUPPORT').map((m) => m.text)).toEqual(['Deploy finished']);
  });

  it('turns the chat API refusal into an ActionError typed with its reason', async () => {
    const run = await tester.run({ script: SCRIPT, proxy: live(), input: { channel: 'old-launch', text: 'hello?' } });
    expect(run.error).toMatchObject({ kind: 'script', code: 'ACTION_ERROR', type: 'is_archived' });
  });

  it('refuses input that does not match the schema before any HTTP call', async () => {
    const run = await tester.run({ script: SCRIPT, proxy: live(), input: { channel: 'support', text: '' } });
    expect(run.error).toMatchObject({ kind: 'sdk', code: 'INVALID_INPUT' });
    expect(run.requests).toHaveLength(0);
  });
});

describe('post-message replayed from a recorded response', () => {
  it('returns what the recorded answer says, with the recorded input', async () => {
    const fixture = await readFixture(join(import.meta.dirname, '../fixtures/post-message.json'));
    const run = await tester.run({ script: SCRIPT, fixture });
    expect(run.error).toBeUndefined();
    const answer = fixture.exchanges[0]!.response.json as { channel: string; ts: string };
    expect(run.output).toMatchObject({ channel: answer.channel, ts: answer.ts });
    expect(run.requests[0]?.body && JSON.parse(run.requests[0].body)).toEqual(fixture.input);
  });
});
