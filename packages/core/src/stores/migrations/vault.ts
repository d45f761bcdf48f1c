import type { Migration } from './index';

/**
 * Tables of the `vault` module. They hold ciphertext and metadata only: the
 * `envelope` and `wrapped` columns are AES-256-GCM envelopes, never plaintext.
 */
export const vaultMigrations: Migration[] = [
  {
    module: 'vault',
    version: 1,
    name: 'vault data keys and secrets',
    up: (names) => `
      CREATE TABLE IF NOT EXISTS ${names.table('vault_data_keys')} (
        store text COLLATE "C" NOT NULL,
        tenant text COLLATE "C" NOT NULL,
        generation integer NOT NULL CHECK (generation > 0),
        wrapped bytea NOT NULL,
        master_key_id text NOT NULL,
        created_under text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (store, tenant, generation)
      );
      CREATE TABLE IF NOT EXISTS ${names.table('vault_secrets')} (
        store text COLLATE "C" NOT NULL,
        tenant text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        envelope bytea NOT NULL,
        data_key integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (store, tenant, name)
      );
    `,
  },
];
