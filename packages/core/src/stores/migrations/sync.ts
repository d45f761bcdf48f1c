import type { Migration } from './index';

/**
 * Tables of the `sync` module.
 *
 * - `sync_tables`: one row per (tenant, source, entity); its `id` keys the rest.
 * - `sync_rows`: every raw record of every synced entity, one shared table
 *   keyed on (table_id, external_id) (decision 0400). A change
 *   (insert, content change, soft delete, restore) stamps the row with a new
 *   `change_seq`; writers of one table hold an advisory lock, so sequence
 *   order is commit order and mappers read changes by `change_seq` (decision 0402).
 * - `sync_runs`: one row per run, with counts and the checkpoint cursor. At
 *   most one open (running or interrupted) run per table.
 * - `sync_seen`: the ids a full run saw but did not write, one array per
 *   batch, for delete detection; emptied when the run ends.
 * - `sync_mappers`: each mapper's version and position per table.
 * - `sync_quarantine`: raw rows a mapper could not validate or map, with the error.
 *
 * Version 2 gives each run `live_at_start` (the live rows when a full run
 * opened: the base of the mass-delete guard, decision 0407) and `high_water`
 * (the largest `cursorField` value its records carried: where the next
 * incremental run's `since` comes from, decision 0408).
 */
export const syncMigrations: Migration[] = [
  {
    module: 'sync',
    version: 1,
    name: 'sync rows, runs, seen ids, mapper positions and quarantine',
    up: (n) => `
CREATE TABLE ${n.table('sync_tables')} (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant text NOT NULL,
  source text NOT NULL,
  entity text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant, source, entity)
);

CREATE SEQUENCE ${n.table('sync_change_seq')};

CREATE TABLE ${n.table('sync_rows')} (
  table_id integer NOT NULL,
  external_id text NOT NULL,
  data jsonb NOT NULL,
  hash text NOT NULL,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  synced_at timestamptz NOT NULL DEFAULT now(),
  changed_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  run_id bigint,
  change_seq bigint NOT NULL DEFAULT nextval('${n.table('sync_change_seq')}'),
  PRIMARY KEY (table_id, external_id)
);

CREATE INDEX sync_rows_changes ON ${n.table('sync_rows')} (table_id, change_seq);

CREATE TABLE ${n.table('sync_runs')} (
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

CREATE UNIQUE INDEX sync_runs_one_open ON ${n.table('sync_runs')} (table_id) WHERE status IN ('running', 'interrupted');

CREATE INDEX sync_runs_by_table ON ${n.table('sync_runs')} (table_id, id DESC);

CREATE TABLE ${n.table('sync_seen')} (
  run_id bigint NOT NULL,
  external_ids text[] NOT NULL
);

CREATE INDEX sync_seen_run ON ${n.table('sync_seen')} (run_id);

CREATE TABLE ${n.table('sync_mappers')} (
  name text NOT NULL,
  table_id integer NOT NULL,
  version integer NOT NULL,
  position bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, table_id)
);

CREATE TABLE ${n.table('sync_quarantine')} (
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
`,
  },
  {
    module: 'sync',
    version: 2,
    name: 'sync runs: live rows at start, high-water mark of the cursor field',
    up: (n) => `
ALTER TABLE ${n.table('sync_runs')} ADD COLUMN live_at_start integer;

ALTER TABLE ${n.table('sync_runs')} ADD COLUMN high_water timestamptz;
`,
  },
];
