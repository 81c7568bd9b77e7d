/**
 * Incoming provider webhooks. Providers cannot hold a Ferry key, so POST
 * /webhooks/:environment/:provider is public: it is checked against the provider's HMAC
 * signature instead, acknowledged with 202 at once and processed from a queue. The webhook
 * configuration itself (PUT/GET/DELETE /providers/:name/webhook) needs the environment's key.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { ProviderWebhookSchema, toPublicWebhook, type ProviderWebhooks, type WebhookDelivery } from '../../webhooks-in/index.ts';
import { deliveryIdOf, timestampRefusal } from '../../webhooks-in/replay.ts';
import { normaliseWebhook, verifyWebhook, webhookSetupIssues } from '../../webhooks-in/signature-schemes.ts';
import { readScalar } from '../../webhooks-in/verify.ts';
import type { Environments } from '../../tenancy/environments.ts';
import type { ApiEnv } from '../app.ts';
import { ApiError, checkRequestValue, jsonBody, notFound, parseInput, parseJsonBytes } from '../errors.ts';
import { defineRoutes } from '../openapi/index.ts';

export interface WebhookRouteDeps {
  environments: Environments;
  providerWebhooks: ProviderWebhooks;
  acceptWebhook(delivery: WebhookDelivery, providerDeliveryId: string | null): Promise<{ id: string | null; duplicate: boolean }>;
}

const Name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, - and _');
const ProviderParam = z.object({ name: Name });
const ReceiveParams = z.object({ environment: Name, provider: Name });

const WebhookConfigView = z.looseObject({ provider: z.string(), signature_header: z.string(), connection_id_path: z.string(), url: z.string() });

export const webhookRouteSpecs = defineRoutes([
  {
    method: 'post', path: '/webhooks/:environment/:provider', tag: 'webhooks', auth: false, params: ReceiveParams, body: z.unknown(),
    // A provider may add parameters of its own to the URL it calls: they are ignored, not refused.
    query: z.looseObject({}),
    summary: 'Receive a provider webhook (verified by its signature header in the provider\'s scheme: hmac, stripe or standard-webhooks; not a key)',
    description: 'Acknowledged at once and processed from a queue: routed to the syncs of the provider whose webhookSubscriptions take the event, for the connection the payload names.',
    responses: {
      202: { description: 'Accepted', schema: z.object({ accepted: z.literal(true), duplicate: z.literal(false), id: z.string().nullable(), event: z.string().nullable() }) },
      200: {
        description: 'Received before under the same provider delivery id (delivery_id_header or delivery_id_path): not queued again',
        schema: z.object({ accepted: z.literal(true), duplicate: z.literal(true), id: z.null(), event: z.string().nullable() }),
      },
      401: { description: 'INVALID_SIGNATURE; INVALID_TIMESTAMP or STALE_TIMESTAMP (timestamp_header missing, malformed or beyond tolerance_seconds)' },
    },
  },
  {
    method: 'put', path: '/providers/:name/webhook', tag: 'webhooks', params: ProviderParam, body: ProviderWebhookSchema,
    summary: 'Configure how a provider\'s webhooks are verified and routed', responses: { 200: { description: 'The configuration (without its secret)', schema: WebhookConfigView } },
  },
  {
    method: 'get', path: '/providers/:name/webhook', tag: 'webhooks', params: ProviderParam,
    summary: 'A provider\'s webhook configuration (without its secret)', responses: { 200: { description: 'The configuration', schema: WebhookConfigView } },
  },
  { method: 'delete', path: '/providers/:name/webhook', tag: 'webhooks', params: ProviderParam, summary: 'Stop accepting a provider\'s webhooks', responses: { 204: { description: 'Removed' } } },
]);

/** Public: mounted before the environment-key check. */
export function webhookReceiverRoutes(deps: WebhookRouteDeps) {
  const app = new Hono<ApiEnv>();

  app.post('/webhooks/:environment/:provider', async (c) => {
    const params = parseInput(ReceiveParams, c.req.param(), 'params');
    const environment = await deps.environments.findByName(params.environment);
    const config = environment ? await deps.providerWebhooks.get(environment.id, params.provider) : null;
    // One answer for both: a caller learns nothing about which environments exist.
    if (!environment || !config) throw notFound(`webhook endpoint for "${params.provider}" in "${params.environment}"`);

    const raw = new Uint8Array(await c.req.arrayBuffer());
    const verified = verifyWebhook(config, raw, (name) => c.req.header(name));
    if (!verified.ok) throw new ApiError(401, 'INVALID_SIGNATURE', verified.message, [{ path: verified.path, message: verified.message }]);
    const stale = timestampRefusal(config, verified.timestamp, Date.now());
    if (stale) throw new ApiError(stale.status, stale.code, stale.message, [{ path: stale.path, message: stale.message }]);
    // A provider's payload is taken as any JSON reader takes it: a 64-bit id sent as a number
    // becomes the nearest float (providers that send one send it as a string too, like X's
    // id_str). Refusing it would refuse every delivery of that provider, and it cannot change.
    const payload = parseJsonBytes(raw, 'the webhook payload', undefined, 'float');
    // The edge rule of every route (depth, NUL, lone surrogates), now that the payload is parsed.
    // A "__proto__" key is the provider's data: JSON.parse keeps it as an own key, the payload is
    // never copied by a schema, and it reaches the script as JSON text (runtime/worker/execute.ts).
    checkRequestValue(payload, 'body', { keepProtoKeys: true });
    const event = config.event_header ? (c.req.header(config.event_header) ?? null) : config.event_path ? readScalar(payload, config.event_path) : null;
    const providerId = deliveryIdOf(config, config.delivery_id_header ? c.req.header(config.delivery_id_header) : undefined, payload);
    if (!('id' in providerId)) throw new ApiError(providerId.status, providerId.code, providerId.message, [{ path: providerId.path, message: providerId.message }]);
    const delivery = { environmentId: environment.id, provider: params.provider, event, payload, receivedAt: new Date().toISOString() };
    const { id, duplicate } = await deps.acceptWebhook(delivery, providerId.id);
    // A 2xx either way: the provider's retry of a delivery whose answer it lost must stop.
    return duplicate ? c.json({ accepted: true, duplicate: true, id: null, event }, 200) : c.json({ accepted: true, duplicate: false, id, event }, 202);
  });

  return app;
}

export function webhookRoutes(deps: WebhookRouteDeps) {
  const app = new Hono<ApiEnv>();

  app.put('/providers/:name/webhook', async (c) => {
    const { name } = parseInput(ProviderParam, c.req.param(), 'params');
    const config = parseInput(ProviderWebhookSchema, await jsonBody(c), 'body');
    const issues = webhookSetupIssues(config);
    if (issues.length > 0) throw new ApiError(400, 'INVALID_REQUEST', `invalid body: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, issues);
    const env = c.get('environment');
    const stored = normaliseWebhook(config);
    await deps.providerWebhooks.upsert(env.id, name, stored);
    return c.json({ ...toPublicWebhook(name, stored), url: `/webhooks/${env.name}/${name}` });
  });

  app.get('/providers/:name/webhook', async (c) => {
    const { name } = parseInput(ProviderParam, c.req.param(), 'params');
    const env = c.get('environment');
    const config = await deps.providerWebhooks.get(env.id, name);
    if (!config) throw notFound(`webhook configuration of provider "${name}"`);
    return c.json({ ...toPublicWebhook(name, config), url: `/webhooks/${env.name}/${name}` });
  });

  app.delete('/providers/:name/webhook', async (c) => {
    const { name } = parseInput(ProviderParam, c.req.param(), 'params');
    if (!(await deps.providerWebhooks.remove(c.get('environment').id, name))) throw notFound(`webhook configuration of provider "${name}"`);
    return c.body(null, 204);
  });

  return app;
}
