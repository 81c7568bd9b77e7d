/**
 * The OpenAPI document is generated from the same zod schemas that validate requests, and it
 * covers every route the app registers.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApi, ROUTE_SPECS, type ApiDeps } from '../../host/api/app.ts';
import { registeredRoutes, routesWithoutSpec, toOpenApiPath } from '../../host/api/openapi/index.ts';
import { createLogger } from '../../host/logger.ts';
import { startTestFerry, type TestFerry } from '../helpers/ferry.ts';

/** The app's route table, built with dependencies that throw if used: building only registers handlers. */
function appRoutes() {
  const inert = new Proxy({ logger: createLogger({ level: 'silent' }) } as Record<string | symbol, unknown>, {
    get: (target, key) => (key in target ? target[key] : () => { throw new Error(`dependency ${String(key)} used while building the app`); }),
  });
  return registeredRoutes(createApi(inert as unknown as ApiDeps));
}

let ferry: TestFerry;
beforeAll(async () => { ferry = await startTestFerry(); });
afterAll(async () => { await ferry?.close(); });

test('every route registered on the app has a spec, and every spec a route', () => {
  const routes = appRoutes();
  expect(routes.length).toBeGreaterThan(5);
  expect(routesWithoutSpec(routes, ROUTE_SPECS)).toEqual([]);
  const registered = new Set(routes.map((r) => `${r.method} ${r.path}`));
  expect(ROUTE_SPECS.map((s) => `${s.method.toUpperCase()} ${s.path}`).filter((k) => !registered.has(k))).toEqual([]);
});

test('GET /openapi.json serves a 3.1 document with every route, its parameters and the error shape, without a key', async () => {
  const response = await fetch(`${ferry.url}/openapi.json`);
  expect(response.status).toBe(200);
  const doc = await response.json() as any;
  expect(doc.openapi).toBe('3.1.0');
  for (const spec of ROUTE_SPECS) expect(doc.paths[toOpenApiPath(spec.path)]?.[spec.method], `${spec.method} ${spec.path}`).toBeDefined();

  const records = doc.paths['/records'].get;
  const params = Object.fromEntries(records.parameters.map((p: any) => [p.name, p]));
  expect(params.connection_id).toMatchObject({ in: 'query', required: true, schema: { type: 'string' } });
  expect(params.limit).toMatchObject({ required: false, schema: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } });
  expect(params.cursor.schema.pattern).toBe('^\\d{1,19}$');
  expect(Object.keys(params).sort()).toEqual(['connection_id', 'cursor', 'filter', 'ids', 'limit', 'model', 'modified_after', 'variant']);
  expect(params.variant).toMatchObject({ required: false, schema: { type: 'string', default: 'base' } });
  const variants = doc.paths['/syncs/{name}/variants'];
  expect(variants.post.requestBody.content['application/json'].schema.required).toEqual(['connection_id', 'variant']);
  expect(variants.get.responses['200']).toBeDefined();
  expect(doc.paths['/syncs/{name}/variants/{variant}'].delete.responses['200']).toBeDefined();
  const page = records.responses['200'].content['application/json'].schema;
  expect(page.properties.records.items.properties._ferry_metadata.required).toContain('cursor');
  expect(records.responses['4XX']).toEqual({ $ref: '#/components/responses/Error' });
  expect(doc.components.schemas.Error.properties.error.required).toEqual(['code', 'message']);

  expect(doc.paths['/healthz'].get.security).toEqual([]);
  expect(doc.components.securitySchemes.secretKey).toMatchObject({ type: 'http', scheme: 'bearer' });
});

test('operation ids are unique', async () => {
  const doc = await (await fetch(`${ferry.url}/openapi.json`)).json() as any;
  const ids = Object.values(doc.paths).flatMap((item: any) => Object.values(item).map((op: any) => op.operationId));
  expect(new Set(ids).size).toBe(ids.length);
});
