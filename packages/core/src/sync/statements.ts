import type { SqlNames } from '../stores/sql';

/**
 * The SQL of a sync table, built once per table from the schema's names.
 * Every statement keys on the table's id as `$1` (`table_id = $1`); the rest
 * of the parameters are listed with each statement.
 */

/** The columns of `sync_runs` every run statement returns. */
export const RUN_COLUMNS =
  'id, mode, status, since, from_cursor, cursor, last_cursor, pages, seen, inserted, changed, unchanged, deleted, failed, live_at_start, high_water, error_code, error, started_at, finished_at';

/** The statements of one schema's sync tables. */
export type SyncStatements = ReturnType<typeof syncStatements>;

/** Builds the statements for the sync tables of one schema. */
export function syncStatements(names: SqlNames) {
  const tables = names.table('sync_tables');
  const rows = names.table('sync_rows');
  const runs = names.table('sync_runs');
  const seen = names.table('sync_seen');
  const changeSeq = `nextval('${names.table('sync_change_seq')}')`;
  const KEY = 'table_id = $1';
  /** The session's staging table for COPY (in pg_temp; one per connection, whatever the schema). */
  const STAGE = 'ballast_sync_stage';

  /**
   * Live rows a full run ($2) neither wrote (what it wrote, it saw) nor
   * recorded as seen unchanged. EXCEPT is a hash or sort set operation,
   * never a nested loop, whatever the planner's statistics say.
   */
  const unseen = `SELECT external_id FROM ${rows} WHERE ${KEY} AND deleted_at IS NULL
      AND changed_at < (SELECT started_at FROM ${runs} WHERE id = $2)
    EXCEPT
    SELECT unnest(external_ids) FROM ${seen} WHERE run_id = $2`;

  /**
   * Adds a stored batch's counts to its run and moves the checkpoint, with a
   * compare-and-set on the page count and status: $1 run, $2 pages before,
   * $3 cursor, $4-$8 seen/inserted/changed/unchanged/failed, $9 pages,
   * $10 last cursor, $11 the batch's high-water mark.
   */
  const checkpoint = `UPDATE ${runs} SET pages = pages + $9, cursor = $3, last_cursor = coalesce($10, last_cursor),
      seen = seen + $4, inserted = inserted + $5, changed = changed + $6, unchanged = unchanged + $7,
      failed = failed + $8, high_water = greatest(high_water, $11::timestamptz), updated_at = now()
    WHERE id = $1 AND pages = $2 AND status = 'running' RETURNING ${RUN_COLUMNS}`;

  /**
   * Upserts the records of the CTE `input` (external_id, hash, data) for
   * run `p.run` and writes only those whose hash differs or that come back
   * from a soft delete. When the run tracks what it saw (`p.tracks`), the ids
   * the compare found unchanged (`p.unchanged`) and the sent records the hash
   * guard skipped (the compare was skipped, or another writer got there
   * first) go to sync_seen.
   */
  const upsertFrom = (inputs: string, p: { run: string; tracks: string; unchanged: string }) => `WITH ${inputs}, up AS (
        INSERT INTO ${rows} AS r (table_id, external_id, data, hash, run_id)
        SELECT $1, i.external_id, i.data, i.hash, ${p.run}::bigint FROM input i
        ON CONFLICT (table_id, external_id) DO UPDATE SET
          data = excluded.data, hash = excluded.hash, synced_at = now(), changed_at = now(),
          deleted_at = NULL, run_id = excluded.run_id, change_seq = excluded.change_seq
        WHERE r.hash <> excluded.hash OR r.deleted_at IS NOT NULL
        RETURNING external_id, (xmax = 0) AS inserted
      ), seen AS (
        INSERT INTO ${seen} (run_id, external_ids)
        SELECT ${p.run}::bigint, array_agg(s.id) FROM (
          SELECT i.external_id AS id FROM input i
          WHERE NOT EXISTS (SELECT 1 FROM up WHERE up.external_id = i.external_id)
          UNION ALL SELECT unnest(${p.unchanged}::text[])
        ) s WHERE ${p.tracks}::boolean HAVING count(*) > 0
      )
      SELECT (count(*) FILTER (WHERE inserted))::int AS inserted, (count(*) FILTER (WHERE NOT inserted))::int AS changed FROM up`;

  return {
    /** $1 the lock key: the table's write lock, held to the end of the transaction. */
    lock: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
    /**
     * The lock for run batches: their checkpoint commits with them, so a
     * crash that loses the last commits loses data and checkpoint together,
     * and the resumed run fetches those pages again (decision 0403).
     */
    lockRelaxed: "SELECT pg_advisory_xact_lock(hashtextextended($1, 0)), set_config('synchronous_commit', 'off', true)",
    /**
     * Registers (tenant $1, source $2, entity $3) and returns its id. A
     * concurrent first registration can hide the row from this statement's
     * snapshot: the caller asks twice.
     */
    register: `WITH ins AS (
        INSERT INTO ${tables} (tenant, source, entity) VALUES ($1, $2, $3)
        ON CONFLICT (tenant, source, entity) DO NOTHING RETURNING id
      )
      SELECT id FROM ins UNION ALL SELECT id FROM ${tables} WHERE tenant = $1 AND source = $2 AND entity = $3`,
    /**
     * Compares the hashes of a chunk (ids $2, hashes $3) with the stored ones
     * (one index probe per id: the LATERAL ... LIMIT 1 keeps that plan
     * whatever the statistics say) and returns the ids that must be sent:
     * new, changed, or back from a soft delete. A read: it runs before the
     * batch's transaction (0406).
     */
    compare: `WITH input AS (
        SELECT * FROM unnest($2::text[], $3::text[]) AS i(id, hash)
      ), found AS (
        SELECT i.id, i.hash AS sent, r.hash AS stored, r.deleted FROM input i
        LEFT JOIN LATERAL (
          SELECT hash, deleted_at IS NOT NULL AS deleted FROM ${rows}
          WHERE ${KEY} AND external_id = i.id LIMIT 1
        ) r ON true
      )
      SELECT id, stored IS NOT NULL AS known FROM found WHERE stored IS DISTINCT FROM sent OR deleted`,
    /**
     * Upserts the records sent (ids $2, hashes $3, a JSON array $4, run $5)
     * and writes only those whose hash differs or that come back from a soft
     * delete. When the run tracks what it saw ($6), the ids the compare found
     * unchanged ($7) and the sent records the hash guard skipped (the compare
     * was skipped, or another writer got there first) go to sync_seen.
     */
    write: upsertFrom(
      `input AS (
        SELECT * FROM ROWS FROM (unnest($2::text[]), unnest($3::text[]), jsonb_array_elements($4::jsonb))
          AS i(external_id, hash, data)
      )`,
      { run: '$5', tracks: '$6', unchanged: '$7' },
    ),
    /**
     * Creates the session's staging table for COPY when it is missing (no
     * notice when it exists, unlike IF NOT EXISTS). Rows are emptied by the
     * merge that reads them, and at the latest at commit (decision 1000).
     */
    stageCreate: `DO $$ BEGIN
        IF to_regclass('pg_temp.${STAGE}') IS NULL THEN
          CREATE TEMP TABLE ${STAGE} (ord integer NOT NULL, external_id text NOT NULL, hash text NOT NULL, data jsonb NOT NULL)
            ON COMMIT DELETE ROWS;
        END IF;
      END $$`,
    /** `sync_rows` and the columns of a COPY straight into it (a first load, decision 1000). */
    rows,
    rowColumns: ['table_id', 'external_id', 'hash', 'data', 'run_id'] as const,
    /** The staging table, for `copyFrom`. */
    stage: `pg_temp.${STAGE}`,
    /** The staging table's columns, in the order of the COPY text. */
    stageColumns: ['ord', 'external_id', 'hash', 'data'] as const,
    /**
     * {@link write} reading the records from the staging table (emptying it)
     * in the order they were copied; run $2, tracks seen $3, unchanged ids $4.
     */
    merge: upsertFrom(
      `staged AS (
        DELETE FROM pg_temp.${STAGE} RETURNING ord, external_id, hash, data
      ), input AS (
        SELECT external_id, hash, data FROM staged ORDER BY ord
      )`,
      { run: '$2', tracks: '$3', unchanged: '$4' },
    ),
    /**
     * The stored version of ids $2 (the value at path $3 of their data, as
     * text, and its JSON type), read under the table's lock before a write.
     */
    versions: `SELECT external_id, data #>> $3::text[] AS version, jsonb_typeof(data #> $3::text[]) AS kind
      FROM ${rows} WHERE ${KEY} AND external_id = ANY($2::text[])`,
    /** Records ids $2 as seen by run $1. */
    addSeen: `INSERT INTO ${seen} (run_id, external_ids) VALUES ($1, $2::text[])`,
    checkpoint,
    /**
     * A batch with nothing to write: the checkpoint and the seen ids ($12) in
     * one statement, atomic without a transaction block or the table lock
     * (it writes no sync row), committed with synchronous_commit off like
     * every run batch (0403, 0406).
     */
    checkpointSeen: `WITH run AS (${checkpoint}), seen AS (
        INSERT INTO ${seen} (run_id, external_ids) SELECT id, $12::text[] FROM run WHERE cardinality($12::text[]) > 0
      )
      SELECT run.*, set_config('synchronous_commit', 'off', true) AS relaxed FROM run`,
    /** The open run of the table, locked. */
    openRun: `SELECT ${RUN_COLUMNS} FROM ${runs} WHERE ${KEY} AND status IN ('running', 'interrupted') FOR UPDATE`,
    /** Reopens run $1. */
    resumeRun: `UPDATE ${runs} SET status = 'running', error_code = NULL, error = NULL, updated_at = now() WHERE id = $1 RETURNING ${RUN_COLUMNS}`,
    /** Abandons run $1. */
    abandonRun: `UPDATE ${runs} SET status = 'abandoned', finished_at = now(), updated_at = now() WHERE id = $1`,
    /** Forgets the seen ids of run $1. */
    clearSeen: `DELETE FROM ${seen} WHERE run_id = $1`,
    /** The last completed run: where an incremental run starts from, and the high-water mark carried on. */
    lastCompleted: `SELECT started_at, last_cursor, high_water FROM ${runs} WHERE ${KEY} AND status = 'completed' ORDER BY id DESC LIMIT 1`,
    /**
     * Records a new run (mode $2, since $3, cursor $4, high water $5); a full
     * run counts the rows live now, the base of its mass-delete guard (0407).
     */
    insertRun: `INSERT INTO ${runs} (table_id, mode, status, since, from_cursor, last_cursor, high_water, live_at_start)
      VALUES ($1, $2, 'running', $3, $4, $4, $5,
        CASE WHEN $2 = 'full' THEN (SELECT count(*) FROM ${rows} WHERE ${KEY} AND deleted_at IS NULL) END)
      RETURNING ${RUN_COLUMNS}`,
    /** Leaves run $1 resumable with error code $2 and message $3. */
    interruptRun: `UPDATE ${runs} SET status = 'interrupted', error_code = $2, error = $3, updated_at = now() WHERE id = $1 AND status = 'running'`,
    /**
     * Closes run $1 (pages $2 as a compare-and-set) with status $3, adding
     * $4 deletes, error code $5 and message $6.
     */
    closeRun: `UPDATE ${runs} SET status = $3, deleted = deleted + $4, error_code = $5, error = $6,
        finished_at = now(), updated_at = now()
      WHERE id = $1 AND pages = $2 AND status = 'running' RETURNING ${RUN_COLUMNS}`,
    /**
     * For run $2: the base of the guard (the rows live when it started; the
     * rows live now for a run recorded before migration sync@2) and the
     * unseen rows.
     */
    tally: `SELECT coalesce((SELECT live_at_start FROM ${runs} WHERE id = $2),
          (SELECT count(*) FROM ${rows} WHERE ${KEY} AND deleted_at IS NULL))::int AS live,
        (SELECT count(*) FROM (${unseen}) u)::int AS missing`,
    /** The unseen rows of run $2, the delete candidates. */
    unseen,
    /** Soft-deletes the unseen rows of run $2. */
    deleteUnseen: `UPDATE ${rows} SET deleted_at = now(), synced_at = now(), run_id = $2, change_seq = ${changeSeq}
      WHERE ${KEY} AND external_id IN (${unseen})`,
    /** Soft-deletes the live rows with ids $2, outside a run. */
    markDeleted: `UPDATE ${rows} SET deleted_at = now(), synced_at = now(), run_id = NULL, change_seq = ${changeSeq}
      WHERE ${KEY} AND external_id = ANY($2::text[]) AND deleted_at IS NULL`,
    /** One row by id $2. */
    getRow: `SELECT external_id, data, hash, first_seen_at, synced_at, changed_at, deleted_at, run_id, change_seq
      FROM ${rows} WHERE ${KEY} AND external_id = $2`,
    /** The live rows. */
    countLive: `SELECT count(*)::int AS n FROM ${rows} WHERE ${KEY} AND deleted_at IS NULL`,
    /** All rows, deleted or not. */
    countAll: `SELECT count(*)::int AS n FROM ${rows} WHERE ${KEY}`,
    /** The $2 most recent runs. */
    listRuns: `SELECT ${RUN_COLUMNS} FROM ${runs} WHERE ${KEY} ORDER BY id DESC LIMIT $2`,
  };
}
