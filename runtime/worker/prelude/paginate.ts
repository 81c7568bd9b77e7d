/**
 * `paginate`: walks a paginated endpoint with the provider's defaults under the script's
 * settings, with Nango's options (cursor, link, offset by size or per page; parameters in the
 * body for POST/PUT/PATCH, dot paths included; `on_page` after each page).
 */
import type { PaginateConfig, ProxyConfiguration, ProxyResponse } from '@ferry/sdk';
import { StringCtor, isArray, parse, stringify } from './builtins.ts';
import { CAPS, checkSize, hostCall, sdkError } from './host.ts';
import { headerValue, proxy, toParams } from './proxy.ts';

export function getPath(value: unknown, path: string | undefined): unknown {
  if (!path) return value;
  // A key that itself holds dots (`@odata.nextLink`) is read as one key, as Nango's (lodash's) get does.
  if (value !== null && typeof value === 'object' && path in value) return (value as Record<string, unknown>)[path];
  let current = value;
  for (const part of path.split('.')) {
    if (current == null) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** Sets `path` (dot separated) in `target`, creating the objects on the way. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let current = target;
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i]!;
    const next = current[part];
    if (next === null || typeof next !== 'object' || isArray(next)) current[part] = {};
    current = current[part] as Record<string, unknown>;
  }
  current[parts[parts.length - 1]!] = value;
}

function nextFromLinkHeader(header: string | undefined, rel: string): string | undefined {
  if (!header) return undefined;
  for (const part of StringCtor(header).split(',')) {
    const match = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (!match) continue;
    const rels = /rel="?([^";]*)"?/i.exec(match[2]!);
    if (rels && rels[1]!.split(/\s+/).includes(rel)) return match[1];
  }
  return undefined;
}

type Request = ProxyConfiguration & { params: Record<string, string> };

type Paginate = <T = any>(config: ProxyConfiguration) => AsyncGenerator<T[], undefined, void>;

/**
 * `paginate` where the host pages (a Nango test's own `nangoMock.paginate`): each page comes from
 * the host, and the `on_page` calls its paginate made before a page are made here, in order,
 * with the script's own function. The host may answer that the script's paginate walks instead.
 */
function hostPaged(walkHere: Paginate): Paginate {
  return async function* paginate<T = any>(config: ProxyConfiguration): AsyncGenerator<T[], undefined, void> {
    const onPage = config.paginate?.on_page;
    const step = async (value: unknown) => {
      const text = stringify(value);
      checkSize(text, CAPS.proxyRequestBytes, 'paginate request');
      return parse(await hostCall('paginate', text)) as { inScript?: true; walk: string; done: boolean; page?: unknown; onPage: unknown[] };
    };
    let answer = await step({ config: parse(stringify(config)), onPage: typeof onPage === 'function' });
    if (answer.inScript) {
      yield* walkHere<T>(config);
      return;
    }
    const walk = answer.walk;
    let ended = false;
    try {
      for (;;) {
        for (const args of answer.onPage) await (onPage as (page: unknown) => unknown)(args);
        if (answer.done) {
          ended = true;
          return;
        }
        yield answer.page as T[];
        answer = await step({ walk });
      }
    } finally {
      // The script stopped early (break, a throw): the host's walk is closed too.
      if (!ended) void step({ walk, close: true }).catch(() => undefined);
    }
  };
}

export function createPaginate(defaults: Record<string, unknown> | undefined, hostPaginates = false): Paginate {
  const walkHere = walkPages(defaults);
  return hostPaginates ? hostPaged(walkHere) : walkHere;
}

function walkPages(defaults: Record<string, unknown> | undefined): Paginate {
  return async function* paginate<T = any>(config: ProxyConfiguration): AsyncGenerator<T[], undefined, void> {
    const settings = { ...(defaults || {}), ...(config.paginate || {}) } as Partial<PaginateConfig>;
    const type = settings.type;
    if (type === undefined || !['cursor', 'link', 'offset', 'page'].includes(type)) {
      throw sdkError('INVALID_ARGUMENT', 'paginate: `paginate.type` must be cursor, link, offset or page');
    }
    const method = StringCtor(config.method || 'GET').toUpperCase();
    const inBody = settings.in_body ?? ['POST', 'PUT', 'PATCH'].includes(method);
    if (inBody && config.data !== undefined && (config.data === null || typeof config.data !== 'object' || isArray(config.data))) {
      throw sdkError('INVALID_ARGUMENT', 'paginate: pagination parameters go in the body, so `data` must be an object');
    }
    let request: Request = { ...config, params: toParams(config.params) };
    if (inBody) request.data = config.data === undefined ? {} : parse(stringify(config.data));
    const place = (name: string, value: string | number) => {
      if (inBody) setPath(request.data as Record<string, unknown>, name, value);
      else request.params[name] = StringCtor(value);
    };
    const perPage = type === 'page' || settings.offset_calculation_method === 'per-page';
    if (settings.limit !== undefined && settings.limit_name_in_request) place(settings.limit_name_in_request, inBody ? Number(settings.limit) : settings.limit);
    let position = settings.offset_start_value !== undefined ? Number(settings.offset_start_value) : type === 'page' ? 1 : 0;
    if (type === 'offset' || type === 'page') {
      if (!settings.offset_name_in_request) throw sdkError('INVALID_ARGUMENT', 'paginate: `offset_name_in_request` is required');
      place(settings.offset_name_in_request, position);
    }
    for (;;) {
      const response: ProxyResponse = await proxy(request);
      const found = getPath(response.data, settings.response_path);
      const page = (isArray(found) ? found : []) as T[];
      if (page.length === 0) return;

      let next: string | number | undefined;
      if (type === 'cursor') {
        const cursor = getPath(response.data, settings.cursor_path_in_response);
        next = cursor === undefined || cursor === null || cursor === '' ? undefined : (cursor as string | number);
      } else if (type === 'link') {
        const link = settings.link_path_in_response_body
          ? getPath(response.data, settings.link_path_in_response_body)
          : nextFromLinkHeader(headerValue(response.headers, 'link'), settings.link_rel_in_response_header || 'next');
        next = link ? StringCtor(link) : undefined;
      } else {
        const short = settings.limit !== undefined && page.length < Number(settings.limit);
        next = short ? undefined : position + (perPage ? 1 : page.length);
      }

      yield page;
      if (typeof settings.on_page === 'function') await settings.on_page({ nextPageParam: next, response });
      if (next === undefined) return;

      if (type === 'cursor') place(settings.cursor_name_in_request || 'cursor', next);
      else if (type === 'link') {
        // An absolute next URL is followed where it points (not under the base URL's path again);
        // the host accepts its origin only if it is one of the provider's declared origins.
        const match = /^(https?:\/\/[^/?#]+)(.*)$/i.exec(StringCtor(next));
        request = match
          ? { ...request, baseUrlOverride: match[1]!, endpoint: match[2] || '/', params: {} }
          : { ...request, endpoint: StringCtor(next), params: {} };
      } else {
        position = next as number;
        place(settings.offset_name_in_request!, position);
      }
    }
  };
}
