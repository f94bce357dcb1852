-- Repository names in any script (docs/vcs.md, Naming). Two names are the same name when their keys are
-- equal: NFKC with case folding, computed by the service (beatflow_platform.naming.name_key) with the
-- Unicode database it validates names with, rather than by lower(), whose folding depends on the
-- database's collation. Names written before this migration are ASCII, whose key is lower(name): the
-- backfill is exact and keeps every existing name valid and unique.
ALTER TABLE repositories ADD COLUMN name_key text;
UPDATE repositories SET name_key = lower(name);
ALTER TABLE repositories ALTER COLUMN name_key SET NOT NULL;
DROP INDEX repositories_owner_name_key;
CREATE UNIQUE INDEX repositories_owner_name_key ON repositories (owner_id, name_key) WHERE deleted_at IS NULL;
