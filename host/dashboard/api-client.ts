/**
 * The dashboard reads and acts only through the HTTP API, called in process with the session's
 * key: the same validation, the same stores and the same authorisation as any client, so a page
 * can never show what the API would refuse (another environment's ids are the API's 404). A
 * 4xx/5xx answer is the app client's own FerryApiError: its code and message, for a page to
 * show or a 404 page.
 */
import { FerryApiError } from '@ferry/client';

export { FerryApiError, isFerryApiError } from '@ferry/client';

export type ApiFetch = (request: Request) => Response | Promise<Response>;

export interface DashboardApi {
  get<T>(path: string, query?: Record<string, string | undefined>): Promise<T>;
  send<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>;
}

const INTERNAL_ORIGIN = 'http://ferry.internal';

export function withQuery(path: string, query: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, v);
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export function createDashboardApi(fetchApi: ApiFetch, key: string): DashboardApi {
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetchApi(new Request(`${INTERNAL_ORIGIN}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) }));
    const text = await response.text();
    const json: unknown = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
      throw new FerryApiError(response.status, error?.code ?? 'ERROR', error?.message ?? `${method} ${path} answered ${response.status}`, error ?? {});
    }
    return json as T;
  }
  return {
    get: (path, query) => call('GET', withQuery(path, query)),
    send: (method, path, body) => call(method, path, body),
  };
}

/** Path segment encoding for ids in API and page URLs. */
export const seg = (value: string) => encodeURIComponent(value);
