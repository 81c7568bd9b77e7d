/**
 * A minimal stand-in for the host's proxy in tests: sends a script's ProxyRequest straight to
 * the demo provider with its bearer key (no retries, no rate limits — host/proxy does those).
 */
import type { ProxyRequest, ProxyResponse } from '../../runtime/contract.ts';
import type { DemoProvider } from '../../demo/provider.ts';

export async function forwardToProvider(provider: DemoProvider, request: ProxyRequest): Promise<ProxyResponse> {
  const url = new URL(request.endpoint, provider.url);
  for (const [name, value] of Object.entries(request.params ?? {})) url.searchParams.set(name, value);
  const headers: Record<string, string> = { ...request.headers, authorization: `Bearer ${provider.apiKey}` };
  if (request.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method: request.method, headers, ...(request.body !== undefined && { body: request.body }) });
  return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
}
