-- Ballast cache@1: cache entries. Generated from @ballast/core's migrations; do not edit.
CREATE SCHEMA IF NOT EXISTS "ballast";
CREATE TABLE IF NOT EXISTS "ballast"."schema_migrations" (
  module text NOT NULL,
  version integer NOT NULL,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (module, version)
);
CREATE TABLE IF NOT EXISTS "ballast"."cache_entries" (
        key text PRIMARY KEY,
        status integer NOT NULL,
        status_text text NOT NULL DEFAULT '',
        headers jsonb NOT NULL,
        body bytea NOT NULL,
        stored_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
CREATE INDEX IF NOT EXISTS cache_entries_expires_idx ON "ballast"."cache_entries" (expires_at);
INSERT INTO "ballast"."schema_migrations" (module, version, name) VALUES ('cache', 1, 'cache entries') ON CONFLICT DO NOTHING;
DO $ballast$
DECLARE t record; who text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'ballast' AND NOT rowsecurity LOOP
    EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', 'ballast', t.tablename);
  END LOOP;
  SELECT string_agg(quote_ident(rolname), ', ') INTO who FROM pg_roles WHERE rolname IN ('anon', 'authenticated');
  IF who IS NOT NULL THEN
    EXECUTE 'REVOKE ALL ON ALL TABLES IN SCHEMA "ballast" FROM ' || who;
    EXECUTE 'REVOKE ALL ON ALL SEQUENCES IN SCHEMA "ballast" FROM ' || who;
    EXECUTE 'REVOKE ALL ON ALL FUNCTIONS IN SCHEMA "ballast" FROM ' || who;
    EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA "ballast" REVOKE ALL ON TABLES FROM ' || who;
    EXECUTE 'REVOKE ALL ON SCHEMA "ballast" FROM ' || who;
  END IF;
END
$ballast$;
