-- Ballast inbox@1: inbox events. Generated from @ballast/core's migrations; do not edit.
CREATE SCHEMA IF NOT EXISTS "ballast";
CREATE TABLE IF NOT EXISTS "ballast"."schema_migrations" (
  module text NOT NULL,
  version integer NOT NULL,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (module, version)
);
CREATE TABLE IF NOT EXISTS "ballast"."inbox_events" (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source text NOT NULL,
  event_id text NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'processing', 'processed', 'failed', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  received_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  next_attempt_at timestamptz,
  lease_owner text,
  lease_until timestamptz,
  processed_at timestamptz,
  CONSTRAINT inbox_events_source_event_id_key UNIQUE (source, event_id)
);
CREATE INDEX IF NOT EXISTS inbox_events_due_idx ON "ballast"."inbox_events" (source, next_attempt_at)
  WHERE status IN ('received', 'failed', 'processing');
CREATE INDEX IF NOT EXISTS inbox_events_attention_idx ON "ballast"."inbox_events" (source, type, id)
  WHERE status IN ('failed', 'dead');
INSERT INTO "ballast"."schema_migrations" (module, version, name) VALUES ('inbox', 1, 'inbox events') ON CONFLICT DO NOTHING;
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
