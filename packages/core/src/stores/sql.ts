/**
 * The small SQL interface every SQL-backed Ballast store is written against.
 *
 * One dialect (Postgres), two drivers that ship here: PGlite (embedded, the
 * default) and node-postgres. An adapter for another client (postgres.js,
 * a Supabase pooler, a Drizzle connection) is the three methods below.
 */

import { StoreError } from './errors';

/** Rows returned by a query, and how many rows it touched. */
export interface SqlResult<Row> {
  rows: Row[];
  /** Rows inserted, updated or deleted (or returned, for a SELECT). */
  rowCount: number;
}

/** Anything that runs parameterized SQL: a client, or a transaction. */
export interface SqlExecutor {
  /** Runs one statement with `$1`-style parameters. */
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>>;
  /**
   * Optional bulk load: `COPY table (columns) FROM STDIN` in text format
   * (tab-separated columns, one row per line, `\\`, tab and newline escaped),
   * fed with `data`, chunks of that text. Resolves to the rows copied. A
   * driver that cannot COPY leaves it out, and callers fall back to INSERT;
   * one that could but misses an optional package rejects with a
   * `MissingDependencyError` before it sends anything. `table` is SQL (an
   * already quoted name); the columns are quoted here.
   */
  copyFrom?(table: string, columns: readonly string[], data: Iterable<string> | AsyncIterable<string>): Promise<number>;
}

/** A connection pool (or an embedded database) that can open transactions. */
export interface SqlClient extends SqlExecutor {
  /**
   * Runs `fn` inside one transaction on one connection: committed when `fn`
   * resolves, rolled back when it throws (the error is rethrown). `tx` refuses
   * queries once the transaction has ended, so a query left running by `fn`
   * never lands on a connection that went back to the pool.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /** Closes what the driver opened itself; a pool passed in by the app is left open. */
  close(): Promise<void>;
}

/** Quotes an SQL identifier (schema, table or column name). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The schema holding Ballast's tables, validated and quoted once. */
export interface SqlNames {
  /** The schema name as given, e.g. `ballast`. */
  readonly schema: string;
  /** The schema name, quoted. */
  readonly quotedSchema: string;
  /** `"schema"."table"`, quoted. */
  table(name: string): string;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Validates a schema name and returns a helper that builds qualified table names.
 * @throws StoreError (`invalid_schema`) when the name is not a plain identifier.
 */
export function sqlNames(schema = 'ballast'): SqlNames {
  if (!IDENT.test(schema)) {
    throw new StoreError(
      'stores',
      'invalid_schema',
      `schema must be a plain SQL identifier, got ${JSON.stringify(schema)}`,
    );
  }
  const quoted = quoteIdent(schema);
  return { schema, quotedSchema: quoted, table: (name) => `${quoted}.${quoteIdent(name)}` };
}

/**
 * Runs `fn` with an executor that works only until `fn` settles; a later query
 * rejects with code `transaction_closed`. For driver adapters. @internal
 */
export async function withScopedExecutor<T>(tx: SqlExecutor, fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
  let open = true;
  const scoped: SqlExecutor = {
    query(text, params) {
      if (!open) {
        return Promise.reject(new StoreError('stores', 'transaction_closed', 'the transaction has already ended'));
      }
      return tx.query(text, params);
    },
  };
  const copyFrom = tx.copyFrom?.bind(tx);
  if (copyFrom) {
    scoped.copyFrom = (table, columns, data) => {
      if (!open) {
        return Promise.reject(new StoreError('stores', 'transaction_closed', 'the transaction has already ended'));
      }
      return copyFrom(table, columns, data);
    };
  }
  try {
    return await fn(scoped);
  } finally {
    open = false;
  }
}
