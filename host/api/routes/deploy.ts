import { Hono } from 'hono';
import { DeployError, DeployRequestSchema, type Deployer } from '../../deploy/deploy.ts';
import type { Scripts } from '../../deploy/scripts.ts';
import type { ApiEnv } from '../app.ts';
import { ApiError, jsonBody, parseInput } from '../errors.ts';

export interface DeployRouteDeps {
  deployer: Deployer;
  scripts: Scripts;
}

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
