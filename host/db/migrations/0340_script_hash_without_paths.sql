-- A bundle's hash no longer covers its source map's file paths, only its positions
-- (runtime/bundle-hash.ts): the same scripts deployed from another checkout or working directory
-- are "unchanged". Stored hashes are recomputed the same way, so the first deploy after the
-- upgrade does not see every script with a source map as changed (a new version of each, and
-- a restart of every unfinished key-split pass). Byte for byte as bundleHash:
-- sha256(code, NUL, mappings); a map that is not a JSON object with string mappings keeps its hash.
do $$
declare
  r record;
  positions text;
begin
  for r in select id, code, source_map from scripts where source_map is not null and source_map <> '' loop
    begin
      positions := case when json_typeof(r.source_map::json) = 'object' and json_typeof(r.source_map::json -> 'mappings') = 'string'
        then r.source_map::json ->> 'mappings' end;
    exception when others then
      positions := null;
    end;
    if positions is not null then
      update scripts set hash = encode(sha256(convert_to(r.code, 'UTF8') || '\x00'::bytea || convert_to(positions, 'UTF8')), 'hex') where id = r.id;
    end if;
  end loop;
end $$;
