-- Credentials encrypted at rest (AES-256-GCM, host/crypto/cipher.ts): the ciphertext names its
-- key, so rotation re-encrypts rows whose key is not the current one. The old plaintext column is
-- emptied by the host at start-up (it alone holds the key) and is no longer read.
alter table connections
  add column credentials_enc     text,
  add column credentials_key_id  text,
  -- 'reauth_required' once the provider revoked the refresh token: runs fail fast until new
  -- credentials are stored.
  add column auth_status         text not null default 'ok' check (auth_status in ('ok', 'reauth_required')),
  add column auth_error          text;
create index connections_by_key_id on connections (credentials_key_id);

-- Provider catalog entries gain pagination defaults (applied by `paginate` in scripts) and
-- rate limits shared by every worker process.
alter table providers
  add column pagination  jsonb,
  add column rate_limit  jsonb;
