-- Origins besides the base URL's where a provider's credentials may go (baseUrlOverride,
-- redirects); base_url and these may hold ${connectionConfig.key} placeholders.
alter table providers add column allowed_origins jsonb not null default '[]';
