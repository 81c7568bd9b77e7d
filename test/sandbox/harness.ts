/**
 * What the sandbox conformance suite runs against: every way the runtime can execute a script,
 * a real HTTP provider on 127.0.0.1 reached only through the bridge, and helpers to run a case.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IsolateMode, ProxyRequest, ProxyResponse } from '../../runtime/index.ts';
import { bundle } from '../runtime/helpers.ts';

export interface ExecutionMode {
  name: string;
  isolates: IsolateMode;
}

/** Every execution mode of the runtime; the suite runs each case against each. */
export const EXECUTION_MODES: ExecutionMode[] = [
  { name: 'fresh isolate per run', isolates: 'fresh' },
  { name: 'warm isolate, fresh context per run', isolates: 'warm' },
];

export const MiB = 1024 * 1024;

/** A sync over one model `A` whose exec body is `body`; `top` goes at the module's top level. */
export function syncScript(body: string, top = ''): string {
  return `
    import { createSync } from 'ferry/sdk';
    import { z } from 'zod';
    ${top}
    export default createSync({ description: 'hostile', frequency: 'every hour', models: { A: z.object({ id: z.string() }) },
      exec: async (ctx) => { ${body} } });
  `;
}

export function actionScript(body: string): string {
  return `
    import { createAction } from 'ferry/sdk';
    export default createAction({ description: 'hostile action', exec: async (ctx, input) => { ${body} } });
  `;
}

const bundles = new Map<string, Promise<string>>();
/** Bundles once per source, whatever the number of modes. */
export function bundled(source: string): Promise<string> {
  let code = bundles.get(source);
  if (!code) bundles.set(source, (code = bundle(source)));
  return code;
}

export interface Provider {
  url: string;
  /** Paths requested so far, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** A provider on 127.0.0.1: `/hello` answers JSON, `/big` answers `bigBytes`, `/hang` never answers. */
export async function startProvider(bigBytes: number): Promise<Provider> {
  const requests: string[] = [];
  const big = 'x'.repeat(bigBytes);
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url?.startsWith('/hang')) return;
    if (req.url?.startsWith('/big')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(big);
      return;
    }
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ hello: 'world', path: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** The host's proxy, minus auth and retries: call the provider and hand back text. */
export function httpProxy(provider: Provider) {
  return async (request: ProxyRequest): Promise<ProxyResponse> => {
    const url = new URL(request.endpoint, provider.url);
    for (const [k, v] of Object.entries(request.params)) url.searchParams.set(k, v);
    const response = await fetch(url, { method: request.method, headers: request.headers, body: request.body ?? null });
    return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
  };
}

/** The first log line, parsed as the JSON report a probing script writes. */
export function report(logs: Array<{ message: string }>): any {
  const line = logs[0]?.message;
  if (line === undefined) throw new Error('the script logged nothing');
  return JSON.parse(line);
}
