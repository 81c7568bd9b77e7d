/**
 * Posts a message to a channel of the demo chat tool (write-back). Like Slack, the chat API
 * answers 200 with `{ ok: false, error }` when it refuses, so the action reads the body and
 * turns a refusal into an ActionError the caller gets as a typed 4xx.
 */
import { ActionError, createAction } from 'ferry/sdk';
import { z } from 'zod';

const PostMessageInput = z.object({
  /** Channel id (C0SUPPORT) or name (support). */
  channel: z.string().min(1),
  text: z.string().min(1).max(4000),
  thread_ts: z.string().optional(),
});

const PostedMessage = z.object({ channel: z.string(), ts: z.string(), text: z.string() });

type PostMessageAnswer =
  | { ok: true; channel: string; ts: string; message: { text: string } }
  | { ok: false; error: string };

export default createAction({
  description: 'Post a message to a chat channel',
  version: '1.0.0',
  endpoint: { method: 'POST', path: '/messages', group: 'Chat' },
  input: PostMessageInput,
  output: PostedMessage,
  exec: async (nango, input) => {
    // retries: 0 — posting twice would show the message twice. (A 4xx/5xx answer rejects.)
    const { data } = await nango.post<PostMessageAnswer>({ endpoint: '/api/chat.postMessage', data: input, retries: 0 });
    if (!data.ok) throw new ActionError({ type: data.error, message: `the chat API refused the message: ${data.error}` });
    return { channel: data.channel, ts: data.ts, text: data.message.text };
  },
});
