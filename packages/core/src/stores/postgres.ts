import type { Pool, PoolClient, PoolConfig } from 'pg';
import { type SqlClient, type SqlExecutor, type SqlResult, withScopedExecutor } from './sql';

type Queryable = Pick<Pool | PoolClient, 'query'>;

function wrap(q: Queryable): SqlExecutor {
  return {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>> {
      const res = await q.query(text, params as unknown[] | undefined);
      return { rows: res.rows as Row[], rowCount: res.rowCount ?? res.rows.length };
    },
  };
}

/**
 * Wraps a node-postgres `Pool` as a {@link SqlClient}. The pool stays the
 * caller's: `close()` does not end it.
 */
export function postgresClient(pool: Pool): SqlClient {
  return {
    ...wrap(pool),
    async transaction(fn) {
      const conn = await pool.connect();
      try {
        await conn.query('BEGIN');
        const result = await withScopedExecutor(wrap(conn), fn);
        await conn.query('COMMIT');
        return result;
      } catch (error) {
        await conn.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        conn.release();
      }
    },
    exec: async (script) => {
      await pool.query(script);
    },
    close: async () => {},
  };
}

/**
 * Opens a node-postgres pool from a connection string or config and returns it
 * as a {@link SqlClient} that owns it: `close()` ends the pool.
 *
 * @example
 * ```ts
 * const db = await createPostgres({ connectionString: databaseUrl, max: 16 });
 * ```
 */
export async function createPostgres(config: string | PoolConfig): Promise<SqlClient & { readonly pool: Pool }> {
  const pg = await import('pg');
  const PoolCtor = (pg.default?.Pool ?? (pg as unknown as { Pool: typeof Pool }).Pool) as typeof Pool;
  const pool = new PoolCtor(typeof config === 'string' ? { connectionString: config } : config);
  return { ...postgresClient(pool), pool, close: () => pool.end() };
}
