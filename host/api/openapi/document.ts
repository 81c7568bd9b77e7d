/** Builds the OpenAPI 3.1 document from route specs (zod → JSON Schema 2020-12 via z.toJSONSchema). */
import { z } from 'zod';
import { ErrorResponseSchema } from '../errors.ts';
import type { RouteSpec } from './route-spec.ts';

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

type JsonSchema = Record<string, unknown>;

/**
 * `io: 'input'` for what clients send (defaults make fields optional, coercions show the wire
 * type), `'output'` for what they receive. Transforms have no JSON Schema: they show as `{}`.
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** `/runs/:id` → `/runs/{id}`. */
export function toOpenApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parameters(spec: RouteSpec): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const [where, schema] of [['path', spec.params], ['query', spec.query]] as const) {
    if (!schema) continue;
    const object = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, property] of Object.entries(object.properties ?? {})) {
      const { description, ...propertySchema } = property;
      out.push({
        name,
        in: where,
        required: where === 'path' || (object.required ?? []).includes(name),
        ...(typeof description === 'string' ? { description } : {}),
        schema: propertySchema,
      });
    }
  }
  return out;
}

const ERROR_RESPONSE = { $ref: '#/components/responses/Error' };

function operation(spec: RouteSpec): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.schema ? { content: { [response.contentType ?? 'application/json']: { schema: jsonSchema(response.schema, 'output') } } } : {}),
    };
  }
  responses['4XX'] = ERROR_RESPONSE;
  responses['5XX'] = ERROR_RESPONSE;
  const params = parameters(spec);
  return {
    operationId: `${spec.method}${toOpenApiPath(spec.path).replace(/[^A-Za-z0-9]+(.)?/g, (_, ch: string | undefined) => (ch ?? '').toUpperCase())}`,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [spec.tag],
    ...(spec.auth === false ? { security: [] } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(spec.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } } } } : {}),
    responses,
  };
}

export function buildOpenApiDocument(specs: readonly RouteSpec[], info: OpenApiInfo): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const spec of specs) {
    const path = toOpenApiPath(spec.path);
    const item = (paths[path] ??= {});
    if (item[spec.method]) throw new Error(`two route specs for ${spec.method.toUpperCase()} ${spec.path}`);
    item[spec.method] = operation(spec);
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    security: [{ secretKey: [] }],
    components: {
      securitySchemes: { secretKey: { type: 'http', scheme: 'bearer', description: "An environment's secret key." } },
      schemas: { Error: jsonSchema(ErrorResponseSchema, 'output') },
      responses: {
        Error: {
          description: 'Every 4xx/5xx: `{ error: { code, message, issues? } }`.',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    },
  };
}

/** The distinct (method, path) handlers of a Hono app, middleware left out. */
export function registeredRoutes(app: { routes: readonly { method: string; path: string }[] }): Array<{ method: string; path: string }> {
  const seen = new Map<string, { method: string; path: string }>();
  for (const r of app.routes) if (r.method !== 'ALL') seen.set(`${r.method} ${r.path}`, { method: r.method, path: r.path });
  return [...seen.values()];
}

/** Registered routes (method, Hono path) that have no spec: the contract test expects none. */
export function routesWithoutSpec(routes: readonly { method: string; path: string }[], specs: readonly RouteSpec[]): string[] {
  const documented = new Set(specs.map((s) => `${s.method.toUpperCase()} ${s.path}`));
  const missing = new Set<string>();
  for (const route of routes) {
    if (route.method === 'ALL') continue; // middleware
    const key = `${route.method} ${route.path}`;
    if (!documented.has(key)) missing.add(key);
  }
  return [...missing];
}
