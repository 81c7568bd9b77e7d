/**
 * What the end user types to connect a provider, derived from its catalog entry: credential
 * fields by auth type, then the connection_config values it declares. One zod schema per
 * provider validates the hosted page's form and the headless API alike.
 */
import { z } from 'zod';
import type { Credentials } from '../connections/connections.ts';
import type { ConnectField, Provider } from '../connections/providers.ts';

export interface FormField extends ConnectField {
  /** Where the value goes. */
  target: 'credentials' | 'connection_config';
}

function credentialFields(provider: Provider): ConnectField[] {
  const label = (name: string, fallback: string) => provider.connect?.credential_labels[name] ?? fallback;
  const field = (name: string, fallback: string, secret: boolean): ConnectField => ({ name, label: label(name, fallback), secret, optional: false });
  switch (provider.auth.type) {
    case 'api_key': return [field('apiKey', 'API key', true)];
    case 'bearer': return [field('token', 'Access token', true)];
    case 'basic': return [field('username', 'Username', false), field('password', 'Password', true)];
    // The end user's own machine-to-machine client.
    case 'oauth2': return provider.auth.grant === 'client_credentials' ? [field('clientId', 'Client ID', false), field('clientSecret', 'Client secret', true)] : [];
    case 'none': return [];
  }
}

export function formFields(provider: Provider): FormField[] {
  return [
    ...credentialFields(provider).map((f) => ({ ...f, target: 'credentials' as const })),
    ...(provider.connect?.connection_config ?? []).map((f) => ({ ...f, target: 'connection_config' as const })),
  ];
}

/** The provider's form as a zod schema: every declared field, trimmed, matching its pattern. */
export function formSchema(provider: Provider) {
  const shape: Record<string, z.ZodType> = {};
  for (const f of formFields(provider)) {
    let value = z.string().trim().max(4000);
    value = f.optional ? value : value.min(1, `${f.label} is required`);
    if (f.pattern) value = value.regex(new RegExp(`^(?:${f.pattern})$`), `${f.label} does not look right${f.example ? ` (e.g. ${f.example})` : ''}`);
    shape[f.name] = f.optional ? value.optional() : value;
  }
  return z.object(shape);
}

export interface FormValues {
  credentials: Credentials;
  connectionConfig: Record<string, string>;
}

/** Splits validated form values into credentials (by auth type) and connection_config. */
/** The connection_config values among validated form values. */
export function configFromForm(provider: Provider, values: Record<string, string | undefined>): Record<string, string> {
  const config: Record<string, string> = {};
  for (const f of provider.connect?.connection_config ?? []) {
    const v = values[f.name];
    if (v !== undefined && v !== '') config[f.name] = v;
  }
  return config;
}

export function fromForm(provider: Provider, values: Record<string, string | undefined>): FormValues {
  const connectionConfig = configFromForm(provider, values);
  const v = (name: string) => values[name] ?? '';
  const credentials: Credentials = (() => {
    switch (provider.auth.type) {
      case 'api_key': return { type: 'api_key', apiKey: v('apiKey') };
      case 'bearer': return { type: 'bearer', token: v('token') };
      case 'basic': return { type: 'basic', username: v('username'), password: v('password') };
      case 'none': return { type: 'none' };
      case 'oauth2': throw new Error('oauth2 credentials come from the token endpoint, not a form');
    }
  })();
  return { credentials, connectionConfig };
}
