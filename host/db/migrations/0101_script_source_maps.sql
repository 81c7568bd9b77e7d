-- The source map deployed with a bundle (the script author's own files only), read when one of
-- its runs fails so the recorded error names the script's file:line:col. Null for bundles
-- deployed without one.
alter table scripts add column source_map text;
