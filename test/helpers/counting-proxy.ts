/**
 * An HTTP proxy in front of a host that notes each request's method, path and the host's status:
 * for a test that asserts which routes a client (the CLI) used, and what they answered.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding']);

export interface CountingProxy {
  url: string;
  requests: Array<{ route: string; status: number }>;
  close(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const requests: CountingProxy['requests'] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length' && k !== 'connection')) as Record<string, string>;
    const answer = await fetch(`${target}${req.url}`, { method: req.method!, headers, ...(chunks.length > 0 && { body: Buffer.concat(chunks) }) });
    requests.push({ route: `${req.method} ${req.url!.split('?')[0]}`, status: answer.status });
    // The host's headers as it sent them (Retry-After included), less what fetch has undone or
    // what belongs to the connection: the body below is whole and decoded.
    const answerHeaders = Object.fromEntries([...answer.headers].filter(([k]) => !HOP_HEADERS.has(k)));
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answerHeaders });
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((done) => server.close(() => done())),
  };
}
