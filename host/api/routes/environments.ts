/**
 * Environments and their keys. Creating an environment is an operator's job, allowed only with
 * the configured admin key (FERRY_ADMIN_KEY); rotating and revoking keys is the environment's
 * own business, done with one of its keys.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { EnvironmentNameSchema, sameSecret, type ApiKeyInfo, type Environments } from '../../tenancy/environments.ts';
import type { ApiEnv } from '../app.ts';
import { ApiError, jsonBody, notFound, parseInput } from '../errors.ts';
import { defineRoutes } from '../openapi/index.ts';

export interface EnvironmentRouteDeps {
  environments: Environments;
  /** Unset: environments cannot be created over HTTP. */
  adminKey?: string | undefined;
}

const Label = z.string().min(1).max(100);
const NewEnvironment = z.strictObject({ name: EnvironmentNameSchema, key_label: Label.optional() });
const NewKey = z.strictObject({
  label: Label.optional(),
  /** Rotation in one call: the key making this request is revoked once the new one exists. */
  revoke_current: z.boolean().default(false),
});
const KeyIdParam = z.object({ id: z.string().regex(/^\d{1,19}$/, 'a key id is a number') });

const KeyView = z.object({ id: z.string(), prefix: z.string().nullable(), label: z.string().nullable(), created_at: z.string(), revoked_at: z.string().nullable() });
const EnvironmentView = z.object({ id: z.string(), name: z.string() });

export const environmentRouteSpecs = defineRoutes([
  {
    method: 'post', path: '/environments', tag: 'environments', auth: false, body: NewEnvironment,
    summary: 'Create an environment and its first key (needs the admin key, FERRY_ADMIN_KEY, as bearer)',
    responses: { 201: { description: 'The environment; key.secret is shown only here', schema: EnvironmentView.extend({ key: KeyView.extend({ secret: z.string() }) }) } },
  },
  {
    method: 'get', path: '/environments', tag: 'environments', auth: false, summary: 'List environments (needs the admin key as bearer)',
    responses: { 200: { description: 'Environments', schema: z.object({ environments: z.array(EnvironmentView.extend({ created_at: z.string() })) }) } },
  },
  { method: 'get', path: '/environment', tag: 'environments', summary: 'The environment of the key in use', responses: { 200: { description: 'The environment', schema: EnvironmentView } } },
  { method: 'get', path: '/environment/keys', tag: 'environments', summary: 'This environment\'s keys (never their secrets)', responses: { 200: { description: 'Keys', schema: z.object({ keys: z.array(KeyView) }) } } },
  {
    method: 'post', path: '/environment/keys', tag: 'environments', body: NewKey, summary: 'Create a key (rotate with revoke_current: true)',
    responses: { 201: { description: 'The key; its secret is shown only here', schema: KeyView.extend({ secret: z.string(), revoked_key_id: z.string().nullable() }) } },
  },
  {
    method: 'delete', path: '/environment/keys/:id', tag: 'environments', params: KeyIdParam, summary: 'Revoke a key (not the last live one)',
    responses: { 204: { description: 'Revoked' } },
  },
]);

const bearer = (header: string | undefined) => /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim();

function presentKey(key: ApiKeyInfo) {
  return { id: key.id, prefix: key.prefix, label: key.label, created_at: key.created_at, revoked_at: key.revoked_at };
}

/** Operator routes, mounted before the environment-key check. */
export function adminRoutes(deps: EnvironmentRouteDeps) {
  const app = new Hono<ApiEnv>();

  app.use('/environments', async (c, next) => {
    if (!deps.adminKey) throw new ApiError(403, 'ADMIN_DISABLED', 'managing environments needs FERRY_ADMIN_KEY to be configured on the host');
    const key = bearer(c.req.header('authorization'));
    if (!key || !sameSecret(key, deps.adminKey)) throw new ApiError(401, 'UNAUTHORIZED', 'this route needs "Authorization: Bearer <admin key>"');
    await next();
  });

  app.post('/environments', async (c) => {
    const body = parseInput(NewEnvironment, await jsonBody(c), 'body');
    const created = await deps.environments.create(body.name, body.key_label ?? null);
    if (!created) throw new ApiError(409, 'CONFLICT', `environment "${body.name}" already exists`);
    // The only time this secret is ever shown.
    return c.json({ id: created.environment.id, name: created.environment.name, key: { ...presentKey(created.key), secret: created.key.secret } }, 201);
  });

  app.get('/environments', async (c) => c.json({ environments: await deps.environments.list() }));

  return app;
}

/** The calling environment and its keys. */
export function environmentRoutes(deps: EnvironmentRouteDeps) {
  const app = new Hono<ApiEnv>();

  app.get('/environment', (c) => c.json(c.get('environment')));

  app.get('/environment/keys', async (c) => {
    const keys = await deps.environments.listKeys(c.get('environment').id);
    return c.json({ keys: keys.map(presentKey) });
  });

  app.post('/environment/keys', async (c) => {
    const env = c.get('environment');
    const body = parseInput(NewKey, await jsonBody(c), 'body');
    const currentId = body.revoke_current ? await deps.environments.keyId(env.id, bearer(c.req.header('authorization')) ?? '') : null;
    const key = await deps.environments.createKey(env.id, body.label ?? null);
    if (currentId) await deps.environments.revokeKey(env.id, currentId);
    return c.json({ ...presentKey(key), secret: key.secret, revoked_key_id: currentId }, 201);
  });

  app.delete('/environment/keys/:id', async (c) => {
    const { id } = parseInput(KeyIdParam, c.req.param(), 'params');
    const outcome = await deps.environments.revokeKey(c.get('environment').id, id);
    if (outcome === 'not_found') throw notFound(`key ${id}`);
    if (outcome === 'last_key') throw new ApiError(409, 'LAST_KEY', 'this is the environment\'s last live key: create another before revoking it');
    return c.body(null, 204);
  });

  return app;
}
