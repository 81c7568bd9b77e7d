/**
 * How each provider signs its webhooks, one scheme per way of writing the signature header:
 * - `hmac`: the header is a prefix and one digest of the body, or of `signed_content` around it
 *   (GitHub, Shopify, Slack…), configured field by field (verify.ts);
 * - `stripe`: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, several
 *   v1 during a secret's rotation, the key being the whole `whsec_…` secret; the signed t is held
 *   to `tolerance_seconds`;
 * - `standard-webhooks` (standardwebhooks.com, Svix): `webhook-signature: v1,<base64> v1,<base64>`
 *   over `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the base64 after `whsec_`; the
 *   id and timestamp headers are named by `delivery_id_header` and `timestamp_header`.
 * A scheme says whether the request is signed and where its signed send time is, for the replay
 * check (replay.ts); it answers as data, the route turns a refusal into its 401.
 */
import { timingSafeEqual } from 'node:crypto';
import { standardWebhookMac, timestampedMac, webhookKey } from '../webhooks-out/signature.ts';
import { SIGNED_BODY, webhookConfigIssues, type ProviderWebhook, type SignatureSchemeName } from './provider-webhooks.ts';
import type { TimestampSource } from './replay.ts';
import { signedBytes, verifySignature } from './verify.ts';

type Issue = { path: string[]; message: string };
type HeaderOf = (name: string) => string | undefined;

export type SignatureCheck =
  | { ok: true; timestamp: TimestampSource | null }
  | { ok: false; message: string; path: string[] };

interface SignatureScheme {
  /** The fields the scheme fixes, set to its values (what is stored and shown). */
  normalise(config: ProviderWebhook): ProviderWebhook;
  /** Fields that contradict the scheme. */
  issues(config: ProviderWebhook): Issue[];
  verify(config: ProviderWebhook, body: Uint8Array, header: HeaderOf): SignatureCheck;
}

const refuse = (message: string, header: string): SignatureCheck => ({ ok: false, message, path: ['headers', header] });

/** True when one of `candidates` is `expected`, each compared in constant time. */
function anyMatches(expected: Buffer, candidates: Buffer[]): boolean {
  let found = false;
  for (const candidate of candidates) if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) found = true;
  return found;
}

/** A header's own timestamp source: the replay check reads and names it. */
const headerTimestamp = (header: string, value: string | undefined): TimestampSource => ({ value, label: `the ${header} header`, path: ['headers', header] });

const hmac: SignatureScheme = {
  normalise: (config) => config,
  issues: () => [],
  verify(config, body, header) {
    const timestamp = config.timestamp_header ? header(config.timestamp_header) : undefined;
    const deliveryId = config.delivery_id_header ? header(config.delivery_id_header) : undefined;
    const signed = signedBytes(config, body, { timestamp, deliveryId });
    if (!(signed instanceof Uint8Array)) {
      const missing = signed.missing === 'timestamp' ? config.timestamp_header! : config.delivery_id_header!;
      return refuse(`the ${missing} header, part of what the provider signs, is missing`, missing);
    }
    if (!verifySignature(config, signed, header(config.signature_header))) return refuse(`the ${config.signature_header} header does not match the payload`, config.signature_header);
    return { ok: true, timestamp: config.timestamp_header ? headerTimestamp(config.timestamp_header, timestamp) : null };
  },
};

/** Settings a scheme with its own header format fixes: only their defaults (or the scheme's own values) are accepted. */
function fixedFieldIssues(config: ProviderWebhook, scheme: SignatureSchemeName, encoding: ProviderWebhook['encoding'] | null): Issue[] {
  const issues: Issue[] = [];
  const fixed = (field: string, why: string) => issues.push({ path: ['body', field], message: `the ${scheme} scheme ${why}: leave it out` });
  if (config.algorithm !== 'sha256') fixed('algorithm', 'signs with sha256');
  if (encoding !== null && config.encoding !== encoding) fixed('encoding', `writes its digests in ${encoding}`);
  if (config.signature_prefix !== '') fixed('signature_prefix', 'reads each signature by its version (v1)');
  if (config.signed_content !== SIGNED_BODY) fixed('signed_content', 'fixes what it signs');
  return issues;
}

/** `t=…,v1=…,v1=…,v0=…` as Stripe writes it: the one t, and every v1 (other versions are not HMAC-SHA256). */
function parseStripeHeader(value: string): { t: string | null; v1: string[] } {
  const ts: string[] = [];
  const v1: string[] = [];
  for (const item of value.split(',')) {
    const at = item.indexOf('=');
    if (at === -1) continue;
    const key = item.slice(0, at).trim();
    const text = item.slice(at + 1).trim();
    if (key === 't') ts.push(text);
    else if (key === 'v1') v1.push(text);
  }
  return { t: ts.length === 1 ? ts[0]! : null, v1 };
}

const stripe: SignatureScheme = {
  normalise: (config) => ({ ...config, algorithm: 'sha256', encoding: 'hex' }),
  issues(config) {
    const issues = fixedFieldIssues(config, 'stripe', 'hex');
    if (config.timestamp_header) issues.push({ path: ['body', 'timestamp_header'], message: 'the stripe scheme reads the send time from the t= of its signature header: leave it out' });
    return issues;
  },
  verify(config, body, header) {
    const name = config.signature_header;
    const value = header(name);
    if (!value?.trim()) return refuse(`the ${name} header is missing`, name);
    const { t, v1 } = parseStripeHeader(value);
    if (t === null) return refuse(`the ${name} header has no single t= (the signed send time)`, name);
    if (v1.length === 0) return refuse(`the ${name} header has no v1= signature`, name);
    const expected = Buffer.from(timestampedMac(config.secret, t, body));
    if (!anyMatches(expected, v1.map((s) => Buffer.from(s.toLowerCase())))) return refuse(`no v1= signature of the ${name} header matches the payload`, name);
    return { ok: true, timestamp: { value: t, label: `the t= of the ${name} header`, path: ['headers', name] } };
  },
};

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

const standardWebhooks: SignatureScheme = {
  normalise: (config) => ({ ...config, algorithm: 'sha256', encoding: 'base64' }),
  issues(config) {
    // The encoding is base64 by the scheme; the field's default (hex) is not a choice made.
    const issues = fixedFieldIssues(config, 'standard-webhooks', null);
    if (!config.timestamp_header) issues.push({ path: ['body', 'timestamp_header'], message: 'the standard-webhooks scheme signs the send time: name its header (webhook-timestamp, svix-timestamp)' });
    if (!config.delivery_id_header) issues.push({ path: ['body', 'delivery_id_header'], message: 'the standard-webhooks scheme signs the message id: name its header (webhook-id, svix-id)' });
    const key = config.secret.replace(/^whsec_/, '');
    if (!BASE64.test(key) || webhookKey(config.secret).length === 0) issues.push({ path: ['body', 'secret'], message: 'a standard-webhooks secret is base64, after an optional whsec_' });
    return issues;
  },
  verify(config, body, header) {
    const name = config.signature_header;
    const idHeader = config.delivery_id_header!;
    const tsHeader = config.timestamp_header!;
    const id = header(idHeader);
    const timestamp = header(tsHeader);
    if (id === undefined) return refuse(`the ${idHeader} header, part of what the provider signs, is missing`, idHeader);
    if (timestamp === undefined) return refuse(`the ${tsHeader} header, part of what the provider signs, is missing`, tsHeader);
    const value = header(name);
    if (!value?.trim()) return refuse(`the ${name} header is missing`, name);
    // Space-separated `v1,<base64>`, several during a rotation; other versions are not ours to read.
    const candidates = value.trim().split(/\s+/).flatMap((item) => (item.startsWith('v1,') ? [Buffer.from(item.slice(3))] : []));
    if (candidates.length === 0) return refuse(`the ${name} header has no v1, signature`, name);
    const expected = Buffer.from(standardWebhookMac(config.secret, id, timestamp, body));
    if (!anyMatches(expected, candidates)) return refuse(`no v1 signature of the ${name} header matches the payload`, name);
    return { ok: true, timestamp: headerTimestamp(tsHeader, timestamp) };
  },
};

const SCHEMES: Record<SignatureSchemeName, SignatureScheme> = { hmac, stripe, 'standard-webhooks': standardWebhooks };

/** The configuration as stored: the fields its scheme fixes set to the scheme's values. */
export const normaliseWebhook = (config: ProviderWebhook): ProviderWebhook => SCHEMES[config.scheme].normalise(config);

/** Every reason the configuration does not hold together, its scheme's included; empty when it does. */
export const webhookSetupIssues = (config: ProviderWebhook): Issue[] => [...webhookConfigIssues(config), ...SCHEMES[config.scheme].issues(config)];

/** Whether the request carries the provider's signature of `body`, and where its signed send time is. */
export const verifyWebhook = (config: ProviderWebhook, body: Uint8Array, header: HeaderOf): SignatureCheck => SCHEMES[config.scheme].verify(config, body, header);
