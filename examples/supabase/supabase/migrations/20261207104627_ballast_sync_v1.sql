-- Ballast sync@1: sync rows, runs, seen ids, mapper positions and quarantine. Generated from @ballast/core's migrations; do not edit.
CREATE SCHEMA IF NOT EXISTS "ballast";
CREATE TABLE IF NOT EXISTS "ballast"."schema_migrations" (
  module text NOT NULL,
  version integer NOT NULL,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (module, version)
);
CREATE TABLE "ballast"."sync_tables" (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant text NOT NULL,
  source text NOT NULL,
  entity text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant, source, entity)
);
CREATE SEQUENCE "ballast"."sync_change_seq";
CREATE TABLE "ballast"."sync_rows" (
  table_id integer NOT NULL,
  external_id text NOT NULL,
  data jsonb NOT NULL,
  hash text NOT NULL,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  synced_at timestamptz NOT NULL DEFAULT now(),
  changed_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  run_id bigint,
  change_seq bigint NOT NULL DEFAULT nextval('"ballast"."sync_change_seq"'),
  PRIMARY KEY (table_id, external_id)
);
CREATE INDEX sync_rows_changes ON "ballast"."sync_rows" (table_id, change_seq);
CREATE TABLE "ballast"."sync_runs" (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_id integer NOT NULL,
  mode text NOT NULL CHECK (mode IN ('full', 'incremental')),
  status text NOT NULL CHECK (status IN ('running', 'interrupted', 'completed', 'failed', 'abandoned')),
  since timestamptz,
  from_cursor text,
  cursor text,
  last_cursor text,
  pages integer NOT NULL DEFAULT 0,
  seen integer NOT NULL DEFAULT 0,
  inserted integer NOT NULL DEFAULT 0,
  changed integer NOT NULL DEFAULT 0,
  unchanged integer NOT NULL DEFAULT 0,
  deleted integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0,
  error_code text,
  error text,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE UNIQUE INDEX sync_runs_one_open ON "ballast"."sync_runs" (table_id) WHERE status IN ('running', 'interrupted');
CREATE INDEX sync_runs_by_table ON "ballast"."sync_runs" (table_id, id DESC);
CREATE TABLE "ballast"."sync_seen" (
  run_id bigint NOT NULL,
  external_ids text[] NOT NULL
);
CREATE INDEX sync_seen_run ON "ballast"."sync_seen" (run_id);
CREATE TABLE "ballast"."sync_mappers" (
  name text NOT NULL,
  table_id integer NOT NULL,
  version integer NOT NULL,
  position bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, table_id)
);
CREATE TABLE "ballast"."sync_quarantine" (
  mapper text NOT NULL,
  table_id integer NOT NULL,
  external_id text NOT NULL,
  mapper_version integer NOT NULL,
  stage text NOT NULL CHECK (stage IN ('validate', 'map')),
  error text NOT NULL,
  issues jsonb,
  change_seq bigint NOT NULL,
  quarantined_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (mapper, table_id, external_id)
);
INSERT INTO "ballast"."schema_migrations" (module, version, name) VALUES ('sync', 1, 'sync rows, runs, seen ids, mapper positions and quarantine') ON CONFLICT DO NOTHING;
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
