-- Ballast bulk@1: bulk job summaries and item checkpoints. Generated from @ballast/core's migrations; do not edit.
CREATE SCHEMA IF NOT EXISTS "ballast";
CREATE TABLE IF NOT EXISTS "ballast"."schema_migrations" (
  module text NOT NULL,
  version integer NOT NULL,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (module, version)
);
CREATE TABLE "ballast"."bulk_jobs" (
  job text PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('running', 'paused', 'completed', 'failed')),
  summary jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE "ballast"."bulk_items" (
  job text NOT NULL,
  key text NOT NULL,
  status text NOT NULL CHECK (status IN ('sent', 'done', 'failed')),
  action text NOT NULL CHECK (action IN ('create', 'update')),
  remote_id text,
  error jsonb,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job, key)
);
INSERT INTO "ballast"."schema_migrations" (module, version, name) VALUES ('bulk', 1, 'bulk job summaries and item checkpoints') ON CONFLICT DO NOTHING;
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
