/** The app's webhook endpoint in connect tests: a real HTTP server on 127.0.0.1 keeping every delivery as received. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export async function startWebhookReceiver() {
  const deliveries: Delivery[] = [];
  const server = createServer((req, res) => {
    // The app's return URL (GET) for the redirect flow: a page, not a delivery.
    if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('back in the app');
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    deliveries,
    /** Parsed events of a type, in arrival order. */
    events: (type: string) => deliveries.map((d) => JSON.parse(d.body)).filter((e) => e.type === type),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
