import type { Migration } from './index';

/** Tables of the `idempotency` module: idempotency keys and per-object version guards. */
export const idempotencyMigrations: Migration[] = [
  {
    module: 'idempotency',
    version: 1,
    name: 'idempotency keys and version guards',
    up: (names) => `
CREATE TABLE IF NOT EXISTS ${names.table('idempotency_keys')} (
  key text PRIMARY KEY,
  state text NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
  fingerprint text,
  token text NOT NULL,
  value text,
  claims integer NOT NULL DEFAULT 1,
  lease_until timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_keys_expires_at_idx ON ${names.table('idempotency_keys')} (expires_at);
CREATE TABLE IF NOT EXISTS ${names.table('idempotency_versions')} (
  scope text NOT NULL,
  object_id text NOT NULL,
  version bigint NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (scope, object_id)
);
`,
  },
];
