import { Hono } from 'hono';
import { z } from 'zod';
import { DeployError, DeployRequestSchema, type Deployer } from '../../deploy/deploy.ts';
import type { Scripts } from '../../deploy/scripts.ts';
import type { ApiEnv } from '../app.ts';
import { ApiError, jsonBody, notFound, parseInput } from '../errors.ts';
import { defineRoutes } from '../openapi/index.ts';

export interface DeployRouteDeps {
  deployer: Deployer;
  scripts: Scripts;
}

const ScriptSchema = z.object({ name: z.string(), provider: z.string(), kind: z.string(), version: z.number().int(), hash: z.string(), manifest: z.unknown() });

const VersionParam = z.object({ version: z.coerce.number().int().min(1).max(2_147_483_647) });
const ChangeSchema = z.object({ name: z.string(), kind: z.string(), status: z.enum(['new', 'changed', 'unchanged', 'removed']) });
const DeploySummarySchema = z.object({ version: z.number().int(), created_at: z.string(), rollback_of: z.number().int().nullable(), active: z.boolean(), scripts: z.number().int() });

export const deployRouteSpecs = defineRoutes([
  {
    method: 'post', path: '/deploy', tag: 'deploy', body: DeployRequestSchema, summary: 'Deploy bundled scripts (idempotent by content hash)',
    responses: { 200: { description: 'What changed', schema: z.looseObject({}) } },
  },
  { method: 'get', path: '/scripts', tag: 'deploy', summary: 'The active version of every deployed script', responses: { 200: { description: 'Scripts', schema: z.object({ scripts: z.array(ScriptSchema) }) } } },
  { method: 'get', path: '/deploys', tag: 'deploy', summary: 'Deploy versions, newest first (active: the one running)', responses: { 200: { description: 'Versions', schema: z.object({ deploys: z.array(DeploySummarySchema) }) } } },
  {
    method: 'get', path: '/deploys/:version', tag: 'deploy', params: VersionParam, summary: 'One version and every script it left active',
    responses: { 200: { description: 'The version', schema: DeploySummarySchema.omit({ scripts: true }).extend({ scripts: z.array(ScriptSchema) }) } },
  },
  {
    method: 'post', path: '/deploys/:version/rollback', tag: 'deploy', params: VersionParam,
    summary: 'Re-activate the scripts of a version (recorded as a new version; schedules follow)',
    responses: { 200: { description: 'The new version and what changed', schema: z.object({ version: z.number().int(), rollback_of: z.number().int().nullable(), scripts: z.array(ChangeSchema) }) } },
  },
]);

export function deployRoutes(deps: DeployRouteDeps) {
  const app = new Hono<ApiEnv>();

  app.post('/deploy', async (c) => {
    const request = parseInput(DeployRequestSchema, await jsonBody(c), 'body');
    try {
      return c.json(await deps.deployer.deploy(c.get('environment').id, request));
    } catch (err) {
      if (err instanceof DeployError) throw new ApiError(400, err.code, err.message, err.issues);
      throw err;
    }
  });

  app.get('/scripts', async (c) => {
    const scripts = await deps.scripts.listActive(c.get('environment').id);
    return c.json({ scripts: scripts.map((s) => ({ name: s.name, provider: s.provider, kind: s.kind, version: s.version, hash: s.hash, manifest: s.manifest })) });
  });

  app.get('/deploys', async (c) => c.json({ deploys: await deps.deployer.list(c.get('environment').id) }));

  app.get('/deploys/:version', async (c) => {
    const { version } = parseInput(VersionParam, c.req.param(), 'params');
    const deploy = await deps.deployer.get(c.get('environment').id, version);
    if (!deploy) throw notFound(`deploy version ${version}`);
    return c.json({ ...deploy, scripts: deploy.scripts.map(({ id: _id, ...script }) => script) });
  });

  app.post('/deploys/:version/rollback', async (c) => {
    const { version } = parseInput(VersionParam, c.req.param(), 'params');
    const result = await deps.deployer.rollback(c.get('environment').id, version);
    if (!result) throw notFound(`deploy version ${version}`);
    return c.json(result);
  });

  return app;
}
