import { wellFormed } from '../internal/encoding';
import { type SqlClient, sqlNames } from '../stores/sql';
import { type BulkCheckpointStore, type BulkItemState, type BulkJobSummary, checkJobName } from './checkpoint';
import { BulkError } from './errors';

/** Options for {@link sqlBulkCheckpoints}. */
export interface SqlBulkCheckpointsOptions {
  /**
   * Schema holding the `bulk_jobs` and `bulk_items` tables (created by `migrate(db)`).
   * @default 'ballast'
   */
  schema?: string;
}

const API = 'sqlBulkCheckpoints';

interface ItemRow {
  key: string;
  status: BulkItemState['status'];
  action: BulkItemState['action'];
  remote_id: string | null;
  error: BulkItemState['error'] | string | null;
}

/**
 * A checkpoint store for bulk jobs on PGlite or Postgres, in the tables
 * `migrate(db)` creates (module `bulk`). A job resumed by another process, or
 * after a crash, finds every state written before it.
 *
 * @example
 * ```ts
 * import { createPGlite } from '@ballast/core/stores/pglite';
 * import { migrate, sqlBulkCheckpoints } from '@ballast/core/stores/sql';
 * const db = await createPGlite();
 * await migrate(db, { modules: ['bulk'] });
 * const checkpoints = sqlBulkCheckpoints(db);
 * ```
 */
export function sqlBulkCheckpoints(db: SqlClient, options: SqlBulkCheckpointsOptions = {}): BulkCheckpointStore {
  const names = sqlNames(options.schema);
  const items = names.table('bulk_items');
  const jobs = names.table('bulk_jobs');
  const run = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw new BulkError(API, 'store_failed', `${what} failed (has migrate(db) run?)`, { cause: error });
    }
  };
  return {
    async load(job) {
      checkJobName(API, job);
      const res = await run('reading the checkpoint', () =>
        db.query<ItemRow>(`SELECT key, status, action, remote_id, error FROM ${items} WHERE job = $1`, [job]),
      );
      return res.rows.map((r) => {
        const state: BulkItemState = { key: r.key, status: r.status, action: r.action };
        if (r.remote_id !== null) state.id = r.remote_id;
        if (r.error !== null) state.error = typeof r.error === 'string' ? JSON.parse(r.error) : r.error;
        return state;
      });
    },
    async save(job, states) {
      checkJobName(API, job);
      if (states.length === 0) return;
      // one statement for the batch; a key given twice keeps its last state (keys as stored: two keys
      // that differ only in lone surrogates are one row, and one statement cannot write a row twice)
      const last = new Map(states.map((s) => [wellFormed(s.key), s]));
      const rows = [...last.values()];
      await run('writing the checkpoint', () =>
        db.query(
          `INSERT INTO ${items} (job, key, status, action, remote_id, error)
           SELECT $1, u.key, u.status, u.action, u.remote_id, u.error::jsonb
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(key, status, action, remote_id, error)
           ON CONFLICT (job, key) DO UPDATE SET status = EXCLUDED.status, action = EXCLUDED.action,
             remote_id = COALESCE(EXCLUDED.remote_id, ${items}.remote_id), error = EXCLUDED.error, updated_at = now()`,
          [
            job,
            rows.map((s) => s.key),
            rows.map((s) => s.status),
            rows.map((s) => s.action),
            rows.map((s) => s.id ?? null),
            rows.map((s) => (s.error === undefined ? null : JSON.stringify(s.error))),
          ],
        ),
      );
    },
    async saveJob(job, summary) {
      checkJobName(API, job);
      await run('writing the job summary', () =>
        db.query(
          `INSERT INTO ${jobs} (job, status, summary) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (job) DO UPDATE SET status = EXCLUDED.status, summary = EXCLUDED.summary, updated_at = now()`,
          [job, summary.status, JSON.stringify(summary)],
        ),
      );
    },
    async getJob(job) {
      checkJobName(API, job);
      const res = await run('reading the job summary', () =>
        db.query<{ summary: BulkJobSummary | string }>(`SELECT summary FROM ${jobs} WHERE job = $1`, [job]),
      );
      const row = res.rows[0];
      if (!row) return undefined;
      return typeof row.summary === 'string' ? (JSON.parse(row.summary) as BulkJobSummary) : row.summary;
    },
    async delete(job) {
      checkJobName(API, job);
      await run('deleting the job', () =>
        db.transaction(async (tx) => {
          await tx.query(`DELETE FROM ${items} WHERE job = $1`, [job]);
          await tx.query(`DELETE FROM ${jobs} WHERE job = $1`, [job]);
        }),
      );
    },
  };
}
