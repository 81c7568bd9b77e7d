/**
 * The demo (`ferry start --demo`, `ferry dev --demo`, this repository's `npm start`): the local
 * demo providers, scripts deployed by the caller (the CLI bundles them; the host never imports
 * the CLI), and a connection to each provider whose first sync starts at once.
 */
import { DEMO_PROVIDERS, startDemoProvider, type DemoProvider, type DemoProviderName } from '@ferry/demo';
import type { Logger } from './logger.ts';

export const DEMO_CONNECTION_ID = 'demo-connection';
/** One connection per demo provider: demo-connection (CRM), helpdesk-connection, billing-connection, chat-connection. */
export const demoConnectionId = (provider: string) => (provider === 'demo' ? DEMO_CONNECTION_ID : `${provider}-connection`);
const DEMO_PROVIDER_KEY = 'demo-provider-secret';
const HELPDESK_WEBHOOK_SECRET = 'whsec_demo_helpdesk';
/** A read each demo API answers 200 to with the right token (401 otherwise): connect's credential check. */
const DEMO_VERIFY_ENDPOINTS: Record<DemoProviderName, string> = {
  demo: '/v1/contacts', helpdesk: '/api/v2/tickets', billing: '/v1/invoices', chat: '/api/conversations.list',
};

/** Deploys the scripts in `dir` to the host (the CLI passes its `deployScripts` over HTTP). */
export type DemoDeploy = (dir: string) => Promise<{ version: number; scripts: unknown[] }>;

export interface DemoSetup {
  provider: DemoProvider;
  connectionId: string;
  close(): Promise<void>;
}

async function call(url: string, key: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

export async function setUpDemo(options: { url: string; secretKey: string; logger: Logger; scriptsDir: string; deploy: DemoDeploy; driftEveryMs?: number }): Promise<DemoSetup> {
  const provider = await startDemoProvider({ apiKey: DEMO_PROVIDER_KEY, contacts: 500, driftEveryMs: options.driftEveryMs ?? 20_000 });
  try {
    for (const name of DEMO_PROVIDERS) {
      await call(options.url, options.secretKey, 'PUT', `/providers/${name}`, {
        base_url: provider.baseUrls[name], auth: { type: 'bearer' },
        // The hosted connect page is part of the tour: it names the demo's token and checks it.
        connect: { credential_labels: { token: `API token (for the demo: ${DEMO_PROVIDER_KEY})` }, verification: { method: 'GET', endpoint: DEMO_VERIFY_ENDPOINTS[name] } },
      });
    }
    const deployed = await options.deploy(options.scriptsDir);
    options.logger.info({ version: deployed.version, scripts: deployed.scripts }, 'example scripts deployed');
    for (const name of DEMO_PROVIDERS) {
      await call(options.url, options.secretKey, 'POST', '/connections', {
        connection_id: demoConnectionId(name), provider: name, credentials: { type: 'bearer', token: DEMO_PROVIDER_KEY },
      });
    }
    await subscribeHelpdeskWebhooks(options, provider).catch((err: unknown) => options.logger.warn({ err }, 'demo helpdesk webhooks not set up'));
    return { provider, connectionId: DEMO_CONNECTION_ID, close: () => provider.close() };
  } catch (err) {
    await provider.close();
    throw err;
  }
}

/** The demo helpdesk signs a webhook for every ticket change; Ferry verifies it and routes it to the tickets sync. */
async function subscribeHelpdeskWebhooks(options: { url: string; secretKey: string }, provider: DemoProvider): Promise<void> {
  await call(options.url, options.secretKey, 'PUT', '/providers/helpdesk/webhook', {
    signature_header: 'X-Helpdesk-Signature', algorithm: 'sha256', encoding: 'hex', signature_prefix: 'sha256=',
    secret: HELPDESK_WEBHOOK_SECRET, connection_id_path: 'account_id', event_path: 'type',
  });
  const environment = (await call(options.url, options.secretKey, 'GET', '/environment')) as { name: string };
  provider.helpdesk.subscribe(`${options.url}/webhooks/${encodeURIComponent(environment.name)}/helpdesk`, HELPDESK_WEBHOOK_SECRET, demoConnectionId('helpdesk'));
}
