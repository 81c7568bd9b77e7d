/** `paginate`: walks a paginated endpoint with the provider's defaults under the script's settings. */
import type { PaginateConfig, ProxyConfiguration } from '@ferry/sdk';
import { StringCtor, isArray } from './builtins.ts';
import { sdkError } from './host.ts';
import { headerValue, proxy, toParams } from './proxy.ts';

export function getPath(value: unknown, path: string | undefined): unknown {
  if (!path) return value;
  let current = value;
  for (const part of path.split('.')) {
    if (current == null) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function nextFromLinkHeader(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of StringCtor(header).split(',')) {
    const match = /<([^>]*)>\s*;.*rel="?next"?/i.exec(part);
    if (match) return match[1];
  }
  return undefined;
}

export function createPaginate(defaults: Record<string, unknown> | undefined) {
  return async function* paginate<T = any>(config: ProxyConfiguration): AsyncGenerator<T[], void, undefined> {
    const settings = { ...(defaults || {}), ...(config.paginate || {}) } as Partial<PaginateConfig>;
    const type = settings.type;
    if (type === undefined || !['cursor', 'link', 'offset', 'page'].includes(type)) {
      throw sdkError('INVALID_ARGUMENT', 'paginate: `paginate.type` must be cursor, link, offset or page');
    }
    let request: ProxyConfiguration & { params: Record<string, string> } = { ...config, params: toParams(config.params) };
    if (settings.limit !== undefined && settings.limit_name_in_request) {
      request.params[settings.limit_name_in_request] = StringCtor(settings.limit);
    }
    let position = settings.offset_start_value !== undefined ? Number(settings.offset_start_value) : type === 'page' ? 1 : 0;
    if (type === 'offset' || type === 'page') {
      if (!settings.offset_name_in_request) throw sdkError('INVALID_ARGUMENT', 'paginate: `offset_name_in_request` is required');
      request.params[settings.offset_name_in_request] = StringCtor(position);
    }
    for (;;) {
      const response = await proxy(request);
      const found = getPath(response.data, settings.response_path);
      const page = (isArray(found) ? found : []) as T[];
      if (page.length === 0) return;
      yield page;
      if (settings.limit !== undefined && page.length < Number(settings.limit) && type !== 'cursor' && type !== 'link') return;

      if (type === 'cursor') {
        const next = getPath(response.data, settings.cursor_path_in_response);
        if (next === undefined || next === null || next === '') return;
        request.params[settings.cursor_name_in_request || 'cursor'] = StringCtor(next);
      } else if (type === 'link') {
        const next = settings.link_path_in_response_body
          ? getPath(response.data, settings.link_path_in_response_body)
          : nextFromLinkHeader(headerValue(response.headers, 'link'));
        if (!next) return;
        // An absolute next URL is followed where it points (not under the base URL's path again);
        // the host accepts its origin only if it is one of the provider's declared origins.
        const match = /^(https?:\/\/[^/?#]+)(.*)$/i.exec(StringCtor(next));
        request = match
          ? { ...request, baseUrlOverride: match[1], endpoint: match[2] || '/', params: {} }
          : { ...request, endpoint: StringCtor(next), params: {} };
      } else {
        position += type === 'page' ? 1 : page.length;
        request.params[settings.offset_name_in_request!] = StringCtor(position);
      }
    }
  };
}
