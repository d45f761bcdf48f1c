import { type SqlExecutor, sqlNames } from '@ballast/core/stores/sql';
import { GoogleMapsUsageError } from './errors';
import type { GeocodeEntry, GeocodeStore } from './geocode-store';

/** Options of {@link sqlGeocodeStore}. */
export interface SqlGeocodeStoreOptions {
  /**
   * The schema `migrate()` created the tables in.
   * @default 'ballast'
   */
  schema?: string;
  /**
   * Rows one purge statement touches; the purge loops until none is left, so
   * a large backlog never holds one long lock.
   * @default 5_000
   */
  purgeBatchSize?: number;
}

interface Row {
  key: string;
  place_id: string | null;
  lat: number | null;
  lng: number | null;
  located_at: string | number | null;
  checked_at: string | number;
}

const toEntry = (row: Row): GeocodeEntry => ({
  placeId: row.place_id,
  location: row.lat === null || row.lng === null ? null : { lat: Number(row.lat), lng: Number(row.lng) },
  locatedAt: row.located_at === null ? null : Number(row.located_at),
  checkedAt: Number(row.checked_at),
});

/**
 * A geocode store in the `geocode_cache` table of a PGlite, Postgres or
 * Supabase database, shared by every process using it. Run
 * `migrate(db)` from `@ballast/core/stores/sql` first (or apply the Supabase
 * migration files): the table gets row level security with no policy, like
 * every Ballast table.
 *
 * @example
 * ```ts
 * import { sqlGeocodeStore } from '@ballast/google-maps';
 * import { createPGlite } from '@ballast/core/stores/pglite';
 * import { migrate } from '@ballast/core/stores/sql';
 * const db = await createPGlite();
 * await migrate(db, { modules: ['geocode'] });
 * const store = sqlGeocodeStore(db);
 * ```
 */
export function sqlGeocodeStore(db: SqlExecutor, options: SqlGeocodeStoreOptions = {}): GeocodeStore {
  const API = 'sqlGeocodeStore';
  if (typeof (db as Partial<SqlExecutor> | null)?.query !== 'function') {
    throw new GoogleMapsUsageError(
      API,
      'invalid_options',
      'db must be a SqlClient (createPGlite(), createPostgres(), ...)',
    );
  }
  let table: string;
  try {
    table = sqlNames(options.schema).table('geocode_cache');
  } catch (error) {
    throw new GoogleMapsUsageError(API, 'invalid_options', 'schema must be a plain SQL identifier', { cause: error });
  }
  const batch = options.purgeBatchSize ?? 5_000;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new GoogleMapsUsageError(
      API,
      'invalid_options',
      `purgeBatchSize must be a positive integer, got ${String(batch)}`,
    );
  }
  const columns = 'key, place_id, lat, lng, located_at, checked_at';
  return {
    async get(key) {
      const res = await db.query<Row>(`SELECT ${columns} FROM ${table} WHERE key = $1`, [key]);
      const row = res.rows[0];
      return row === undefined ? undefined : toEntry(row);
    },
    async getMany(keys) {
      const out = new Map<string, GeocodeEntry>();
      if (keys.length === 0) return out;
      const res = await db.query<Row>(`SELECT ${columns} FROM ${table} WHERE key = ANY($1::text[])`, [[...keys]]);
      for (const row of res.rows) out.set(row.key, toEntry(row));
      return out;
    },
    async setMany(entries) {
      if (entries.length === 0) return;
      // the last write of a key wins, as ON CONFLICT cannot touch one row twice in a statement
      const last = new Map<string, GeocodeEntry>();
      for (const [key, entry] of entries) last.set(key, entry);
      const keys: string[] = [];
      const placeIds: (string | null)[] = [];
      const lats: (number | null)[] = [];
      const lngs: (number | null)[] = [];
      const locatedAt: (number | null)[] = [];
      const checkedAt: number[] = [];
      for (const [key, e] of last) {
        keys.push(key);
        placeIds.push(e.placeId);
        lats.push(e.location?.lat ?? null);
        lngs.push(e.location?.lng ?? null);
        locatedAt.push(e.location ? e.locatedAt : null);
        checkedAt.push(e.checkedAt);
      }
      await db.query(
        `INSERT INTO ${table} (${columns})
         SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::bigint[], $6::bigint[])
         ON CONFLICT (key) DO UPDATE SET place_id = EXCLUDED.place_id, lat = EXCLUDED.lat, lng = EXCLUDED.lng,
           located_at = EXCLUDED.located_at, checked_at = EXCLUDED.checked_at`,
        [keys, placeIds, lats, lngs, locatedAt, checkedAt],
      );
    },
    async purge({ locatedBefore, emptyBefore }) {
      let coordinates = 0;
      let empty = 0;
      for (;;) {
        const res = await db.query(
          `UPDATE ${table} SET lat = NULL, lng = NULL, located_at = NULL
            WHERE key IN (SELECT key FROM ${table} WHERE located_at IS NOT NULL AND located_at <= $1 LIMIT ${batch})`,
          [locatedBefore],
        );
        coordinates += res.rowCount;
        if (res.rowCount < batch) break;
      }
      for (;;) {
        const res = await db.query(
          `DELETE FROM ${table}
            WHERE key IN (SELECT key FROM ${table} WHERE place_id IS NULL AND checked_at <= $1 LIMIT ${batch})`,
          [emptyBefore],
        );
        empty += res.rowCount;
        if (res.rowCount < batch) break;
      }
      return { coordinates, empty };
    },
  };
}
