/**
 * The built-in provider catalogue: at least 15 entries in the one format the API accepts, each
 * usable by connect (an OAuth2 authorization-code entry can send the end user somewhere, a
 * templated base URL names connection_config values connect can fill), and the hosted page's
 * fields come from the entry.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { templateKeys } from '../../host/connections/base-url.ts';
import { ProviderSchema, type Provider } from '../../host/connections/providers.ts';
import { formFields, formSchema } from '../../host/connect/fields.ts';

const raw: unknown[] = JSON.parse(readFileSync(new URL('../../host/connections/catalog.json', import.meta.url), 'utf8'));
const catalog: Provider[] = raw.map((entry) => ProviderSchema.parse(entry));

describe('the built-in catalogue', () => {
  test('has at least 15 providers, each valid and named once', () => {
    expect(catalog.length).toBeGreaterThanOrEqual(15);
    expect(new Set(catalog.map((p) => p.name)).size).toBe(catalog.length);
    for (const p of catalog) expect(p.display_name, p.name).toBeTruthy();
  });

  test('every OAuth2 authorization-code entry has an authorize URL; every other entry says how its credentials are checked', () => {
    for (const p of catalog) {
      if (p.auth.type === 'oauth2') {
        if (p.auth.grant === 'authorization_code') expect(p.auth.authorization_url, p.name).toMatch(/^https:\/\//);
        expect(p.auth.token_url, p.name).toMatch(/^https:\/\//);
      } else {
        expect(p.connect?.verification?.endpoint, p.name).toBeTruthy();
      }
    }
  });

  test('a templated base URL reads only values connect captures (a field on the page or a token response field)', () => {
    const templated = catalog.filter((p) => templateKeys(p.base_url).length > 0);
    expect(templated.map((p) => p.name)).toEqual(expect.arrayContaining(['salesforce', 'shopify', 'zendesk']));
    for (const p of templated) {
      const captured = new Set([
        ...(p.connect?.connection_config ?? []).map((f) => f.name),
        ...(p.auth.type === 'oauth2' ? Object.keys(p.auth.token_response_config) : []),
      ]);
      for (const key of templateKeys(p.base_url)) expect(captured.has(key), `${p.name}: ${key}`).toBe(true);
    }
  });

  test("the page's fields and their zod schema come from the entry", () => {
    const zendesk = catalog.find((p) => p.name === 'zendesk')!;
    expect(formFields(zendesk).map((f) => [f.name, f.target, f.secret])).toEqual([
      ['username', 'credentials', false], ['password', 'credentials', true], ['subdomain', 'connection_config', false],
    ]);
    const schema = formSchema(zendesk);
    expect(schema.safeParse({ username: 'a@b.c/token', password: 't', subdomain: 'acme' }).success).toBe(true);
    const bad = schema.safeParse({ username: 'a@b.c/token', password: 't', subdomain: 'evil.com/x' });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]).toMatchObject({ path: ['subdomain'], message: expect.stringContaining('does not look right (e.g. acme)') });
    expect(formFields(catalog.find((p) => p.name === 'salesforce')!)).toEqual([]); // consent only
  });

  test("base URLs are Nango's, so a Nango script's endpoints (`/v1/customers` on stripe) resolve to the same URLs", () => {
    // The provider's origin (and, where Nango has one, its fixed path): the API version is in the script's endpoint.
    const nango: Record<string, string> = {
      airtable: 'https://api.airtable.com', asana: 'https://app.asana.com', attio: 'https://api.attio.com', github: 'https://api.github.com',
      hubspot: 'https://api.hubapi.com', linear: 'https://api.linear.app', notion: 'https://api.notion.com', slack: 'https://slack.com/api',
      stripe: 'https://api.stripe.com', zendesk: 'https://${connectionConfig.subdomain}.zendesk.com', shopify: 'https://${connectionConfig.subdomain}.myshopify.com',
      salesforce: '${connectionConfig.instance_url}', microsoft: 'https://graph.microsoft.com', zoom: 'https://api.zoom.us/v2', gitlab: 'https://gitlab.com',
    };
    for (const [name, baseUrl] of Object.entries(nango)) expect(catalog.find((p) => p.name === name)?.base_url, name).toBe(baseUrl);
    // A verification request carries the version the base URL no longer does.
    expect(catalog.find((p) => p.name === 'stripe')?.connect?.verification?.endpoint).toBe('/v1/balance');
    expect(catalog.find((p) => p.name === 'github')?.pagination).toEqual({ type: 'link', limit_name_in_request: 'per_page', link_rel_in_response_header: 'next' });
  });
});
