import { type SqlExecutor, sqlNames } from '../stores/sql';
import type { CachedResponse, CacheStore } from './cache-store';
import { ResilienceError } from './errors';

/** Options of {@link sqlCache}. */
export interface SqlCacheOptions {
  /**
   * The schema `migrate()` created the tables in.
   * @default 'ballast'
   */
  schema?: string;
}

interface Row {
  status: number;
  status_text: string;
  headers: Array<[string, string]>;
  body: Uint8Array;
  stored_at: string | number;
  variant: string;
}

/**
 * A cache store in a Postgres or PGlite table (`cache_entries`), shared by
 * every process using the database. Run `migrate(db)` first. Expired rows are
 * ignored when read and removed by `purge()`.
 *
 * @example
 * ```ts
 * const db = await createPGlite();
 * await migrate(db);
 * const fetch = resilientFetch({ cache: { store: sqlCache(db) } });
 * ```
 */
export function sqlCache(db: SqlExecutor, options: SqlCacheOptions = {}): CacheStore & { purge(): Promise<number> } {
  if (typeof (db as Partial<SqlExecutor> | null)?.query !== 'function') {
    throw new ResilienceError(
      'sqlCache',
      'invalid_options',
      'db must be a SqlClient (createPGlite(), createPostgres(), ...)',
    );
  }
  let table: string;
  try {
    table = sqlNames(options.schema).table('cache_entries');
  } catch (error) {
    throw new ResilienceError('sqlCache', 'invalid_options', `schema must be a plain SQL identifier`, { cause: error });
  }
  return {
    async get(key) {
      const res = await db.query<Row>(
        `SELECT status, status_text, headers, body, stored_at, variant FROM ${table} WHERE key = $1 AND expires_at > $2`,
        [key, Date.now()],
      );
      const row = res.rows[0];
      if (row === undefined) return undefined;
      const entry: CachedResponse = {
        status: row.status,
        statusText: row.status_text,
        headers: row.headers,
        body: new Uint8Array(row.body),
        storedAt: Number(row.stored_at),
        variant: row.variant,
      };
      return entry;
    },
    async set(key, entry, retainMs) {
      await db.query(
        `INSERT INTO ${table} (key, status, status_text, headers, body, stored_at, expires_at, variant)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (key) DO UPDATE SET status = EXCLUDED.status, status_text = EXCLUDED.status_text,
           headers = EXCLUDED.headers, body = EXCLUDED.body, stored_at = EXCLUDED.stored_at,
           expires_at = EXCLUDED.expires_at, variant = EXCLUDED.variant`,
        [
          key,
          entry.status,
          entry.statusText,
          JSON.stringify(entry.headers),
          entry.body,
          entry.storedAt,
          Date.now() + retainMs,
          entry.variant,
        ],
      );
    },
    async delete(key) {
      await db.query(`DELETE FROM ${table} WHERE key = $1`, [key]);
    },
    /** Deletes expired rows; returns how many. */
    async purge() {
      const res = await db.query(`DELETE FROM ${table} WHERE expires_at <= $1`, [Date.now()]);
      return res.rowCount;
    },
  };
}
