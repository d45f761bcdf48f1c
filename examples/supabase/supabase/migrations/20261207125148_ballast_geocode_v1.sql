-- Ballast geocode@1: geocode cache. Generated from @ballast/core's migrations; do not edit.
CREATE SCHEMA IF NOT EXISTS "ballast";
CREATE TABLE IF NOT EXISTS "ballast"."schema_migrations" (
  module text NOT NULL,
  version integer NOT NULL,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (module, version)
);
CREATE TABLE IF NOT EXISTS "ballast"."geocode_cache" (
        key text COLLATE "C" PRIMARY KEY,
        place_id text COLLATE "C",
        lat double precision,
        lng double precision,
        located_at bigint,
        checked_at bigint NOT NULL,
        CONSTRAINT geocode_cache_coordinates_check CHECK (
          (lat IS NULL) = (lng IS NULL) AND (lat IS NULL) = (located_at IS NULL)
        )
      );
CREATE INDEX IF NOT EXISTS geocode_cache_located_idx ON "ballast"."geocode_cache" (located_at) WHERE located_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS geocode_cache_empty_idx ON "ballast"."geocode_cache" (checked_at) WHERE place_id IS NULL;
INSERT INTO "ballast"."schema_migrations" (module, version, name) VALUES ('geocode', 1, 'geocode cache') ON CONFLICT DO NOTHING;
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
