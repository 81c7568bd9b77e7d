-- How a provider writes its signature header (host/webhooks-in/signature-schemes.ts): 'hmac' (a
-- prefix and one digest, as configured), 'stripe' (t=…,v1=…) or 'standard-webhooks' (v1,… v1,…).
alter table provider_webhooks
  add column scheme text not null default 'hmac' check (scheme in ('hmac', 'stripe', 'standard-webhooks'));
