-- An OAuth2 refresh is claimed by one process at a time through these columns rather than a lock
-- held across the call to the token endpoint: no database connection waits on a provider (in
-- embedded mode there is only one). A claim names its holder and expires, so a process that died
-- mid-refresh holds nobody up for long.
alter table connections
  add column refresh_claim          text,
  add column refresh_claimed_until  timestamptz;
