import { type SqlClient, type SqlExecutor, type SqlNames, sqlNames } from '../stores/sql';
import { isSyncError, SyncError } from './errors';
import { type SyncStatements, syncStatements } from './statements';

/**
 * The database side of one sync table: its statements, its id in
 * `sync_tables`, and the two ways to run SQL (a statement, or a transaction
 * holding the table's write lock), each turning database errors into
 * `store_failed`.
 */
export interface TableStore {
  readonly db: SqlClient;
  readonly names: SqlNames;
  readonly sql: SyncStatements;
  /** `[table id]`, the first parameter of every statement; `[0]` until `tableId` resolved. */
  readonly key: readonly [number];
  /** Registers the table on first use and returns its id. */
  tableId(api: string): Promise<number>;
  /** Runs one statement; database errors become `store_failed`. */
  query<R>(api: string, text: string, params: readonly unknown[], runId?: number): Promise<R[]>;
  /**
   * Runs `fn` in a transaction holding the table's write lock (with
   * `synchronous_commit` off for a run's checkpointed batches, 0403).
   */
  locked<R>(api: string, fn: (tx: SqlExecutor) => Promise<R>, run?: { id: number; checkpointed: boolean }): Promise<R>;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const storeFailed = (api: string, error: unknown, runId: number | undefined) =>
  new SyncError(api, 'store_failed', `the database refused a statement: ${errorMessage(error)}`, {
    cause: error,
    ...(runId === undefined ? {} : { runId }),
  });

/** Opens the database side of the table of (tenant, source, entity) in `schema`. */
export function tableStore(
  db: SqlClient,
  where: { schema: string; tenant: string; source: string; entity: string },
): TableStore {
  let names: SqlNames;
  try {
    names = sqlNames(where.schema);
  } catch (error) {
    throw new SyncError('syncTable', 'invalid_options', errorMessage(error), { cause: error });
  }
  const { tenant, source, entity } = where;
  const sql = syncStatements(names);
  const lockKey = `ballast:sync:${names.schema}:${tenant}:${source}:${entity}`;
  let key: readonly [number] = [0];
  let resolved: Promise<number> | undefined;

  const store: TableStore = {
    db,
    names,
    sql,
    get key() {
      return key;
    },

    tableId(api) {
      resolved ??= (async () => {
        for (let attempt = 0; ; attempt++) {
          const found = await store.query<{ id: number }>(api, sql.register, [tenant, source, entity]);
          const id = found[0]?.id;
          if (id !== undefined) {
            key = [Number(id)];
            return Number(id);
          }
          if (attempt > 0) {
            throw new SyncError(api, 'store_failed', `could not register ${tenant}/${source}/${entity} in sync_tables`);
          }
        }
      })();
      resolved.catch(() => {
        resolved = undefined; // not migrated yet, say: try again on the next call
      });
      return resolved;
    },

    async query<R>(api: string, text: string, params: readonly unknown[], runId?: number) {
      try {
        return (await db.query<R>(text, params)).rows;
      } catch (error) {
        throw storeFailed(api, error, runId);
      }
    },

    async locked(api, fn, run) {
      try {
        return await db.transaction(async (tx) => {
          await tx.query(run?.checkpointed ? sql.lockRelaxed : sql.lock, [lockKey]);
          return fn(tx);
        });
      } catch (error) {
        if (isSyncError(error)) throw error;
        throw storeFailed(api, error, run?.id);
      }
    },
  };
  return store;
}
