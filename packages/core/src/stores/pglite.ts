import type { PGlite, PGliteOptions } from '@electric-sql/pglite';
import { importOptional } from '../internal/optional';
import { copyStatement } from './copy';
import { type SqlClient, type SqlExecutor, type SqlResult, withScopedExecutor } from './sql';

type PGliteLike = Pick<PGlite, 'query' | 'exec' | 'transaction' | 'close'>;

function wrap(q: Pick<PGlite, 'query'>): SqlExecutor {
  return {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>> {
      const res = await q.query<Row>(text, params as unknown[] | undefined);
      return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
    },
    // PGlite reads COPY ... FROM '/dev/blob' from the query's `blob` option
    async copyFrom(table, columns, data) {
      const parts: string[] = [];
      for await (const chunk of data) parts.push(chunk);
      const res = await q.query(copyStatement(table, columns, "'/dev/blob'"), [], { blob: new Blob(parts) });
      return res.affectedRows ?? 0;
    },
  };
}

/**
 * Wraps an existing PGlite instance as a {@link SqlClient}. The instance stays
 * the caller's: `close()` does not close it.
 */
export function pgliteClient(db: PGliteLike): SqlClient {
  return {
    ...wrap(db),
    transaction: (fn) => db.transaction((tx) => withScopedExecutor(wrap(tx), fn)),
    exec: async (script) => {
      await db.exec(script);
    },
    close: async () => {},
  };
}

/**
 * Opens an embedded PGlite database (in memory, or persisted at `dataDir`) and
 * returns it as a {@link SqlClient} that owns it: `close()` closes it.
 *
 * Durability: PGlite runs Postgres with `fsync = off`. On disk, a commit
 * survives a crash of the process but not of the machine (power loss, OS
 * crash); in memory, nothing survives the process. Use Postgres where an
 * acknowledged write must survive a power loss (docs/inbox.md, "What a 200
 * survives").
 *
 * @example
 * ```ts
 * const db = await createPGlite();            // in memory
 * const disk = await createPGlite('./.data'); // persisted
 * ```
 */
export async function createPGlite(dataDir?: string, options: PGliteOptions = {}): Promise<SqlClient> {
  const { PGlite } = await importOptional('createPGlite', '@electric-sql/pglite', () => import('@electric-sql/pglite'));
  const db = await PGlite.create(dataDir === undefined ? options : { ...options, dataDir });
  return { ...pgliteClient(db), close: () => db.close() };
}
