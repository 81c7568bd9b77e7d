/**
 * The CLI's only way to the host: JSON over HTTP with the secret key as a bearer token. Error
 * bodies (`{ error: { code, message, issues? } }`) become a HostApiError the commands can print.
 */
import { z } from 'zod';

export const DEFAULT_HOST_URL = 'http://127.0.0.1:3003';

const ErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), issues: z.array(z.unknown()).optional() }),
});

export class HostApiError extends Error {
  /** HTTP status, or 0 when the host could not be reached. */
  readonly status: number;
  readonly code: string;
  readonly issues: unknown[] | undefined;
  constructor(status: number, code: string, message: string, issues?: unknown[]) {
    super(message);
    this.name = 'HostApiError';
    this.status = status;
    this.code = code;
    this.issues = issues;
  }
}

export interface HostClientOptions {
  url: string;
  key: string | undefined;
}

export interface HostClient {
  readonly url: string;
  /** Sends a request and validates a 2xx JSON answer with `schema`; throws HostApiError otherwise. */
  request<T>(method: string, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T>;
}

export function createHostClient(options: HostClientOptions): HostClient {
  const base = options.url.replace(/\/+$/, '');
  return {
    url: base,
    async request(method, path, schema, body) {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (options.key) headers['authorization'] = `Bearer ${options.key}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      let response: Response;
      try {
        response = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        // Said with what to do: a newcomer's usual cause is that no host runs yet.
        throw new HostApiError(0, 'HOST_UNREACHABLE', `cannot reach the host at ${base}: ${cause?.code ?? cause?.message ?? String(error)}. `
          + 'Is Ferry running there? Start one for this project with `npx ferry dev`, or point --url (or FERRY_URL) at a running host');
      }
      const text = await response.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (!response.ok) {
        const parsed = ErrorBodySchema.safeParse(json);
        if (parsed.success) {
          const { code, message, issues } = parsed.data.error;
          throw new HostApiError(response.status, code, message, issues);
        }
        throw new HostApiError(response.status, `HTTP_${response.status}`, `${method} ${path} answered ${response.status}: ${text.slice(0, 200)}`);
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        throw new HostApiError(response.status, 'UNEXPECTED_RESPONSE', `${method} ${path} answered an unexpected body: ${z.prettifyError(parsed.error)}`);
      }
      return parsed.data;
    },
  };
}
