import type { Options, PostgresType, Sql } from 'postgres';
import { importOptional } from '../internal/optional';
import { StoreError } from './errors';
import { type SqlClient, type SqlExecutor, type SqlResult, withScopedExecutor } from './sql';

/** The part of a postgres.js `sql` instance (or a transaction's `sql`) this driver uses. */
type Unsafe = Pick<Sql, 'unsafe'>;

/** A postgres.js client this driver can wrap: queries, transactions and `end()`. */
export type PostgresJsLike = Pick<Sql, 'unsafe' | 'begin' | 'end'>;

/**
 * A parameter as node-postgres would send it, so that every Ballast store
 * behaves the same on both drivers: arrays become Postgres array literals
 * (the statements cast them, e.g. `$1::text[]`), plain objects become JSON
 * text, `undefined` becomes NULL. Dates, bytes, strings, numbers, booleans and
 * bigints are left to postgres.js, which sends them typed.
 */
function toParameter(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value)) return arrayLiteral(value);
  if (
    typeof value === 'object' &&
    !(value instanceof Date) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof ArrayBuffer)
  ) {
    return JSON.stringify(value);
  }
  return value;
}

function arrayElement(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (Array.isArray(value)) return arrayLiteral(value);
  const text =
    value instanceof Date
      ? value.toISOString()
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value as string | number | boolean | bigint);
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

function arrayLiteral(values: readonly unknown[]): string {
  return `{${values.map(arrayElement).join(',')}}`;
}

function wrap(q: Unsafe): SqlExecutor {
  return {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>> {
      const parameters = params === undefined ? [] : params.map(toParameter);
      // prepare: false: no named statements, so a transaction-mode pooler (Supabase's
      // on port 6543, PgBouncer) may hand each statement to another server connection
      const res = await q.unsafe(text, parameters as never[], { prepare: false });
      const rows = Array.from(res) as Row[];
      return { rows, rowCount: typeof res.count === 'number' ? res.count : rows.length };
    },
  };
}

/**
 * The JSON type for postgres.js that Ballast's stores need: a string bound to
 * a `json`/`jsonb` parameter is already JSON text and is sent as it is (as
 * node-postgres sends it); any other value is serialized with JSON.stringify.
 * postgres.js's default would serialize the string again, storing a JSON
 * string instead of the document. Pass it as `types: { json: postgresJsJsonType }`
 * when you create a client for {@link postgresJsClient}; `createPostgresJs` does.
 */
export const postgresJsJsonType = Object.freeze({
  to: 114,
  from: [114, 3802],
  serialize: (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value)),
  parse: (text: string): unknown => JSON.parse(text),
});

/** True when the client sends JSON text bound to a jsonb parameter unchanged. */
function sendsJsonTextAsIs(sql: PostgresJsLike): boolean {
  const serialize = (sql as { options?: { serializers?: Record<number, (value: unknown) => unknown> } }).options
    ?.serializers?.[3802];
  return serialize === undefined || serialize('{}') === '{}';
}

/**
 * Wraps a postgres.js client (the `postgres` package: Node, Deno, Bun and
 * Workers) as a {@link SqlClient}. The client stays the caller's: `close()`
 * does not end it. Create it with `types: { json: postgresJsJsonType }`
 * (a client without it is refused: it would store Ballast's JSON as strings),
 * and with `prepare: false` when it connects through a transaction-mode
 * pooler; this driver never prepares named statements itself.
 */
export function postgresJsClient(sql: PostgresJsLike): SqlClient {
  if (typeof sql?.unsafe !== 'function' || typeof sql.begin !== 'function') {
    throw new StoreError('postgresJsClient', 'invalid_options', 'sql must be a postgres.js client (postgres(url))');
  }
  if (!sendsJsonTextAsIs(sql)) {
    throw new StoreError(
      'postgresJsClient',
      'invalid_options',
      'create the postgres.js client with types: { json: postgresJsJsonType }: its default JSON type would store JSON text as a string',
    );
  }
  return {
    ...wrap(sql),
    transaction: (fn) => sql.begin((tx) => withScopedExecutor(wrap(tx), fn)) as Promise<Awaited<ReturnType<typeof fn>>>,
    exec: async (script) => {
      // several statements without parameters: the simple query protocol
      await sql.unsafe(script).simple();
    },
    close: async () => {},
  };
}

/** Options of {@link createPostgresJs}: postgres.js's own, with Ballast's defaults. */
export type PostgresJsOptions = Options<Record<string, PostgresType>>;

/**
 * Opens a postgres.js client and returns it as a {@link SqlClient} that owns
 * it: `close()` ends it. Defaults differ from postgres.js's in two ways:
 * `prepare: false` (works through Supabase's transaction-mode pooler on port
 * 6543 and PgBouncer), server notices are not printed (migrations'
 * `IF NOT EXISTS` would print one per object), and JSON text is sent as it is
 * ({@link postgresJsJsonType}). Runs on Node, Deno and Bun.
 *
 * @example
 * ```ts
 * const db = await createPostgresJs(process.env.DATABASE_URL!, { max: 5 });
 * ```
 */
export async function createPostgresJs(
  url: string,
  options: PostgresJsOptions = {},
): Promise<SqlClient & { readonly sql: Sql }> {
  if (typeof url !== 'string' || url.length === 0) {
    throw new StoreError('createPostgresJs', 'invalid_options', 'url must be a postgres:// connection string');
  }
  const mod = await importOptional('createPostgresJs', 'postgres', () => import('postgres'));
  const postgres = (mod as { default: typeof import('postgres') }).default ?? mod;
  const sql = (postgres as unknown as (url: string, options: PostgresJsOptions) => Sql)(url, {
    prepare: false,
    onnotice: () => {},
    ...options,
    types: { json: postgresJsJsonType, ...options.types },
  });
  return { ...postgresJsClient(sql), sql, close: () => sql.end({ timeout: 5 }) };
}
