import { Hono } from 'hono';
import { z } from 'zod';
import { DeployError, DeployRequestSchema, type Deployer } from '../../deploy/deploy.ts';
import type { Scripts } from '../../deploy/scripts.ts';
import type { ApiEnv } from '../app.ts';
import { ApiError, jsonBody, parseInput } from '../errors.ts';
import { defineRoutes } from '../openapi/index.ts';

export interface DeployRouteDeps {
  deployer: Deployer;
  scripts: Scripts;
}

const ScriptSchema = z.object({ name: z.string(), provider: z.string(), kind: z.string(), version: z.number().int(), hash: z.string(), manifest: z.unknown() });

export const deployRouteSpecs = defineRoutes([
  {
    method: 'post', path: '/deploy', tag: 'deploy', body: DeployRequestSchema, summary: 'Deploy bundled scripts (idempotent by content hash)',
    responses: { 200: { description: 'What changed', schema: z.looseObject({}) } },
  },
  { method: 'get', path: '/scripts', tag: 'deploy', summary: 'The active version of every deployed script', responses: { 200: { description: 'Scripts', schema: z.object({ scripts: z.array(ScriptSchema) }) } } },
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

  return app;
}
