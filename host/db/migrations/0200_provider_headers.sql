-- Headers sent on every call to a provider (Notion-Version, X-GitHub-Api-Version), under the
-- script's own; names lowercased.
alter table providers add column headers jsonb not null default '{}';
