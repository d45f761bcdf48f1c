import type { Migration } from './index';

/**
 * Tables of the `geocode` module: a geocoder's answers kept within the
 * provider's caching terms (`geocodeCache` in `@ballast/google-maps`).
 *
 * One row per normalized request (`key`, a hash). `place_id` may be kept
 * indefinitely; `lat`/`lng` are temporary: `located_at` says when they were
 * received, and the purge job nulls all three once they reach their limit
 * (30 days at most for Google), keeping the place id to refresh by. A row
 * with no place id records a request that had no result (`checked_at`).
 */
export const geocodeMigrations: Migration[] = [
  {
    module: 'geocode',
    version: 1,
    name: 'geocode cache',
    up: (names) => `
      CREATE TABLE IF NOT EXISTS ${names.table('geocode_cache')} (
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
      CREATE INDEX IF NOT EXISTS geocode_cache_located_idx ON ${names.table('geocode_cache')} (located_at) WHERE located_at IS NOT NULL;
      CREATE INDEX IF NOT EXISTS geocode_cache_empty_idx ON ${names.table('geocode_cache')} (checked_at) WHERE place_id IS NULL;
    `,
  },
];
