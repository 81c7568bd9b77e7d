import { createAction } from 'nango';
import { z } from 'zod';

const InputSchema = z.object({ channel: z.string(), text: z.string(), thread_ts: z.string().optional() });
const OutputSchema = z.object({ channel: z.string(), ts: z.string() });

export default createAction({
    description: 'Post a message to a channel (or a thread)',
    version: '1.0.0',
    endpoint: { method: 'POST', path: '/messages' },
    input: InputSchema,
    output: OutputSchema,
    scopes: ['chat:write'],

    exec: async (nango, input) => {
        // https://api.slack.com/methods/chat.postMessage: Slack answers 200 with ok: false on failure.
        const response = await nango.post({ endpoint: '/chat.postMessage', data: input });
        const body = z.object({ ok: z.boolean(), error: z.string().optional(), channel: z.string().optional(), ts: z.string().optional() }).parse(response.data);
        if (!body.ok || !body.channel || !body.ts) {
            throw new nango.ActionError({ type: body.error ?? 'slack_error', message: `Slack refused the message: ${body.error ?? 'unknown error'}` });
        }
        return { channel: body.channel, ts: body.ts };
    }
});
