-- Ballast inbox@2: inbox raw body, headers and purge index. Generated from @ballast/core's migrations; do not edit.
CREATE SCHEMA IF NOT EXISTS "ballast";
CREATE TABLE IF NOT EXISTS "ballast"."schema_migrations" (
  module text NOT NULL,
  version integer NOT NULL,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (module, version)
);
ALTER TABLE "ballast"."inbox_events" ADD COLUMN IF NOT EXISTS raw_body text;
ALTER TABLE "ballast"."inbox_events" ADD COLUMN IF NOT EXISTS headers jsonb;
CREATE INDEX IF NOT EXISTS inbox_events_finished_idx ON "ballast"."inbox_events" (status, updated_at);
INSERT INTO "ballast"."schema_migrations" (module, version, name) VALUES ('inbox', 2, 'inbox raw body, headers and purge index') ON CONFLICT DO NOTHING;
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
