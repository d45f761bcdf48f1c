import type { Pool, PoolClient, PoolConfig } from 'pg';
import { importOptional } from '../internal/optional';
import { type ErrorReporter, logOnceReporter, safeReporter } from '../internal/report';
import { type CopySink, copyStatement, writeCopy } from './copy';
import { StoreError } from './errors';
import { type SqlClient, type SqlExecutor, type SqlResult, withScopedExecutor } from './sql';

/** Options of {@link createPostgres} and {@link postgresClient}. */
export interface PostgresClientOptions {
  /**
   * Receives the errors of connections that fail outside a query (Postgres
   * restarted, a failover, an admin's `pg_terminate_backend`): the pool drops
   * such a connection and opens a new one when needed, and queries in flight
   * reject on their own. Without a listener, node-postgres would throw these as
   * an unhandled `'error'` event and end the process.
   * @default for `createPostgres`, a reporter that logs each distinct cause once to `console.error`;
   *   for `postgresClient`, none: the pool is the caller's, and so is its `'error'` listener
   */
  onError?: ErrorReporter;
}

type Queryable = Pick<Pool | PoolClient, 'query'>;

/**
 * The COPY package's name, held in a variable: COPY is only a speed-up, so a bundler must not
 * try to resolve (and fail the build on) a package the app chose not to install. Installed and
 * left external, it is found at run time; otherwise sync writes by INSERT.
 */
const COPY_STREAMS: string = 'pg-copy-streams';

/** `pg-copy-streams`' `from`, loaded on the first COPY (an optional peer dependency). */
let copyStreams: Promise<(text: string) => CopySink & { rowCount: number }> | undefined;

function copyStreamFactory() {
  copyStreams ??= importOptional(
    'copyFrom',
    'pg-copy-streams',
    () => import(/* @vite-ignore */ COPY_STREAMS) as Promise<unknown>,
  ).then((mod) => {
    const m = mod as { from?: unknown; default?: { from?: unknown } };
    return (m.from ?? m.default?.from) as (text: string) => CopySink & { rowCount: number };
  });
  copyStreams.catch(() => {
    copyStreams = undefined; // installed later, say: look again on the next COPY
  });
  return copyStreams;
}

function wrap(q: Queryable): SqlExecutor {
  return {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>> {
      const res = await q.query(text, params as unknown[] | undefined);
      return { rows: res.rows as Row[], rowCount: res.rowCount ?? res.rows.length };
    },
  };
}

/**
 * A held connection's executor, with COPY through `pg-copy-streams`
 * (rejects with `MissingDependencyError` before sending anything when the
 * package is not installed).
 */
function wrapHeld(conn: PoolClient): SqlExecutor {
  return {
    ...wrap(conn),
    async copyFrom(table, columns, data) {
      const from = await copyStreamFactory();
      const stream = conn.query(from(copyStatement(table, columns, 'STDIN')) as never) as unknown as CopySink & {
        rowCount: number;
      };
      await writeCopy(stream, data);
      return stream.rowCount;
    },
  };
}

/**
 * Wraps a node-postgres `Pool` as a {@link SqlClient}. The pool stays the
 * caller's: `close()` does not end it, and its `'error'` listener is the
 * caller's to attach (node-postgres ends the process on a dropped idle
 * connection without one), unless `onError` is given, which attaches one.
 * A connection held for a transaction always gets a listener while it is held.
 */
export function postgresClient(pool: Pool, options: PostgresClientOptions = {}): SqlClient {
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new StoreError('postgresClient', 'invalid_options', 'onError must be a function (error) => void');
  }
  const report = options.onError === undefined ? undefined : safeReporter(options.onError);
  if (report !== undefined) pool.on('error', report);
  // a held connection has no pool listener: one that drops between two statements of a transaction
  // must not end the process (the next statement rejects, and the transaction with it)
  const onHeldError = report ?? (() => {});
  return {
    ...wrap(pool),
    async copyFrom(table, columns, data) {
      await copyStreamFactory(); // a missing package rejects before a connection is taken
      const conn = await pool.connect();
      conn.on('error', onHeldError);
      let broken: Error | undefined;
      try {
        return (await wrapHeld(conn).copyFrom?.(table, columns, data)) ?? 0;
      } catch (error) {
        broken = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        conn.removeListener('error', onHeldError);
        conn.release(broken);
      }
    },
    async transaction(fn) {
      const conn = await pool.connect();
      conn.on('error', onHeldError);
      try {
        await conn.query('BEGIN');
        const result = await withScopedExecutor(wrapHeld(conn), fn);
        await conn.query('COMMIT');
        return result;
      } catch (error) {
        await conn.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        conn.removeListener('error', onHeldError);
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
 * as a {@link SqlClient} that owns it: `close()` ends the pool. The pool's
 * `'error'` events (connections Postgres dropped while idle) go to `onError`,
 * never to an unhandled event: the process survives a Postgres restart, and
 * the queries of the outage reject (the inbox answers 503) until it is back.
 *
 * @example
 * ```ts
 * const db = await createPostgres({ connectionString: databaseUrl, max: 16 });
 * ```
 */
export async function createPostgres(
  config: string | PoolConfig,
  options: PostgresClientOptions = {},
): Promise<SqlClient & { readonly pool: Pool }> {
  const onError = options.onError ?? logOnceReporter('postgres pool');
  const pg = await importOptional('createPostgres', 'pg', () => import('pg'));
  const PoolCtor = (pg.default?.Pool ?? (pg as unknown as { Pool: typeof Pool }).Pool) as typeof Pool;
  const pool = new PoolCtor(typeof config === 'string' ? { connectionString: config } : config);
  return { ...postgresClient(pool, { onError }), pool, close: () => pool.end() };
}
