import type { Migration } from './index';

/** Tables of the `cache` module: responses kept by `sqlCache` for stale-if-error. */
export const cacheMigrations: Migration[] = [
  {
    module: 'cache',
    version: 1,
    name: 'cache entries',
    up: (names) => `
      CREATE TABLE IF NOT EXISTS ${names.table('cache_entries')} (
        key text PRIMARY KEY,
        status integer NOT NULL,
        status_text text NOT NULL DEFAULT '',
        headers jsonb NOT NULL,
        body bytea NOT NULL,
        stored_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX IF NOT EXISTS cache_entries_expires_idx ON ${names.table('cache_entries')} (expires_at);
    `,
  },
  {
    module: 'cache',
    version: 2,
    name: 'cache entry variant (Vary)',
    up: (names) => `
      ALTER TABLE ${names.table('cache_entries')} ADD COLUMN IF NOT EXISTS variant text NOT NULL DEFAULT '';
    `,
  },
];
