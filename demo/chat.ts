/**
 * The demo chat tool (Slack-like), mounted at `/chat`: channels to list and messages to post.
 * Like Slack's Web API it answers 200 with `{ ok: false, error }` for a refused call, so an
 * action has to read the body, not only the status.
 */
import { createClock, objectBody, readJson, HttpError, type DemoApi } from './http.ts';

export interface Channel {
  id: string;
  name: string;
  topic: string;
  is_archived: boolean;
}

export interface ChatMessage {
  channel: string;
  ts: string;
  text: string;
  user: string;
  thread_ts?: string;
}

export interface Chat extends DemoApi {
  channels(): Channel[];
  /** Messages posted to a channel, oldest first. */
  messages(channelId: string): ChatMessage[];
}

const CHANNELS: Channel[] = [
  { id: 'C0GENERAL', name: 'general', topic: 'Company-wide announcements', is_archived: false },
  { id: 'C0SUPPORT', name: 'support', topic: 'Escalations from the helpdesk', is_archived: false },
  { id: 'C0SALES', name: 'sales', topic: 'Deals and renewals', is_archived: false },
  { id: 'C0OLD', name: 'old-launch', topic: 'Launch 2022 (archived)', is_archived: true },
];
export const MAX_MESSAGE_LENGTH = 4000;

export function createChat(): Chat {
  const clock = createClock();
  const messages = new Map<string, ChatMessage[]>(CHANNELS.map((c) => [c.id, []]));

  return {
    prefix: '/chat',
    async handle(method, path, _query, req) {
      if (method === 'GET' && path === '/api/conversations.list') {
        return { status: 200, body: { ok: true, channels: CHANNELS.map((c) => ({ ...c })) } };
      }
      if (method === 'POST' && path === '/api/chat.postMessage') {
        const body = objectBody(await readJson(req));
        const channel = CHANNELS.find((c) => c.id === body['channel'] || c.name === body['channel']);
        if (!channel) return { status: 200, body: { ok: false, error: 'channel_not_found' } };
        if (channel.is_archived) return { status: 200, body: { ok: false, error: 'is_archived' } };
        const text = body['text'];
        if (typeof text !== 'string' || text.trim() === '') return { status: 200, body: { ok: false, error: 'no_text' } };
        if (text.length > MAX_MESSAGE_LENGTH) return { status: 200, body: { ok: false, error: 'msg_too_long' } };
        const at = clock().getTime();
        const message: ChatMessage = { channel: channel.id, ts: `${Math.floor(at / 1000)}.${String(at % 1000).padStart(3, '0')}000`, text, user: 'U0FERRYBOT' };
        if (typeof body['thread_ts'] === 'string') message.thread_ts = body['thread_ts'];
        messages.get(channel.id)!.push(message);
        return { status: 200, body: { ok: true, channel: channel.id, ts: message.ts, message } };
      }
      throw new HttpError(404, 'unknown_method', `no route for ${method} /chat${path}`);
    },
    channels: () => CHANNELS.map((c) => ({ ...c })),
    messages: (channelId) => (messages.get(channelId) ?? []).map((m) => ({ ...m })),
  };
}
