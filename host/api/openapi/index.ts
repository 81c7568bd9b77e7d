export { buildOpenApiDocument, registeredRoutes, routesWithoutSpec, toOpenApiPath, type OpenApiInfo } from './document.ts';
export { defineRoutes, type HttpMethod, type ResponseSpec, type RouteSpec } from './route-spec.ts';
