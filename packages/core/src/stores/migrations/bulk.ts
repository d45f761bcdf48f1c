import type { Migration } from './index';

/**
 * Tables of the `bulk` module: checkpoints of bulk jobs (`bulkUpsert`).
 *
 * - `bulk_jobs`: one summary per job (status, counts, when a paused job may resume).
 * - `bulk_items`: one row per record a job touched, keyed on (job, key): `sent`
 *   (written before a create goes out), `done` with the provider's id, or `failed`
 *   with the reason.
 */
export const bulkMigrations: Migration[] = [
  {
    module: 'bulk',
    version: 1,
    name: 'bulk job summaries and item checkpoints',
    up: (n) => `
CREATE TABLE ${n.table('bulk_jobs')} (
  job text PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('running', 'paused', 'completed', 'failed')),
  summary jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ${n.table('bulk_items')} (
  job text NOT NULL,
  key text NOT NULL,
  status text NOT NULL CHECK (status IN ('sent', 'done', 'failed')),
  action text NOT NULL CHECK (action IN ('create', 'update')),
  remote_id text,
  error jsonb,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job, key)
);
`,
  },
];
