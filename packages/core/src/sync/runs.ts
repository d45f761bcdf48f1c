import { SyncError } from './errors';
import type { SyncCounts } from './options';
import type { TableStore } from './table-store';

/** Status of a sync run. `running` and `interrupted` runs are open: the next run of the same mode resumes them. */
export type SyncRunStatus = 'running' | 'interrupted' | 'completed' | 'failed' | 'abandoned';

/** A sync run's record. */
export interface SyncRun {
  /** The run's id. */
  id: number;
  /** Its mode. */
  mode: 'full' | 'incremental';
  /** Its status. */
  status: SyncRunStatus;
  /**
   * Incremental runs: the `since` the source is given, the previous completed
   * run's high-water mark (or, without one, its start) minus the table's
   * `lookbackMs`.
   */
  since: Date | null;
  /** Incremental runs: the `lastCursor` the source is given (the previous completed run's last cursor). */
  fromCursor: string | null;
  /** The checkpoint: where the next page starts (`null` once the last page is stored). */
  cursor: string | null;
  /** The last non-null cursor the run saw; the next incremental run starts from it. */
  lastCursor: string | null;
  /** Pages stored. */
  pages: number;
  /** Counts across every resumption of the run. */
  counts: SyncCounts;
  /** Full runs: the rows live when the run opened, the base of the mass-delete guard; `null` for incremental runs. */
  liveAtStart: number | null;
  /**
   * The largest `cursorField` value of the records this run and the
   * completed runs before it stored; `null` without a `cursorField`.
   */
  highWater: Date | null;
  /** Why the run stopped, for `interrupted` and `failed` runs (a {@link SyncError} code). */
  errorCode: string | null;
  /** The error message, for `interrupted` and `failed` runs. */
  error: string | null;
  /** When the run started. */
  startedAt: Date;
  /** When the run completed, failed or was abandoned. */
  finishedAt: Date | null;
}

/** What `SyncTable.run` returns: the run's record, and whether it resumed an interrupted one. */
export interface SyncRunResult extends SyncRun {
  /** True when this call continued an interrupted run from its checkpoint. */
  resumed: boolean;
}

/** A row of `sync_runs` as the driver returns it. */
export interface RunRecord extends SyncCounts {
  id: string | number;
  mode: 'full' | 'incremental';
  status: SyncRunStatus;
  since: Date | null;
  from_cursor: string | null;
  cursor: string | null;
  last_cursor: string | null;
  pages: number;
  live_at_start: number | null;
  high_water: Date | null;
  error_code: string | null;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

export function toRun(r: RunRecord): SyncRun {
  return {
    id: Number(r.id),
    mode: r.mode,
    status: r.status,
    since: r.since,
    fromCursor: r.from_cursor,
    cursor: r.cursor,
    lastCursor: r.last_cursor,
    pages: r.pages,
    counts: {
      seen: r.seen,
      inserted: r.inserted,
      changed: r.changed,
      unchanged: r.unchanged,
      deleted: r.deleted,
      failed: r.failed,
    },
    liveAtStart: r.live_at_start,
    highWater: r.high_water,
    errorCode: r.error_code,
    error: r.error,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/** True once every page of the run is stored: a resumed run goes straight to its end (delete detection). */
export const listed = (run: SyncRun): boolean => run.pages > 0 && run.cursor === null;

/** The run records of a table: open (or resume), interrupt, close. */
export function runRecords(store: TableStore, lookbackMs: number) {
  const { sql } = store;
  return {
    /** Opens a run, or reopens the interrupted one; abandons an open run it cannot resume. */
    open(
      mode: 'full' | 'incremental',
      resume: boolean,
      resumable: boolean,
    ): Promise<{ run: SyncRun; resumed: boolean }> {
      return store.locked('syncTable.run', async (tx) => {
        const open = await tx.query<RunRecord>(sql.openRun, store.key);
        const current = open.rows[0];
        if (current) {
          if (resume && resumable && current.mode === mode) {
            const res = await tx.query<RunRecord>(sql.resumeRun, [current.id]);
            return { run: toRun(res.rows[0] as RunRecord), resumed: true };
          }
          await tx.query(sql.abandonRun, [current.id]);
          await tx.query(sql.clearSeen, [current.id]);
        }
        // an incremental run starts where the data says the last completed one got to,
        // minus the lookback (decision 0408); the high-water mark carries on through every mode
        const last = (
          await tx.query<{ started_at: Date; last_cursor: string | null; high_water: Date | null }>(
            sql.lastCompleted,
            store.key,
          )
        ).rows[0];
        const highWater = last?.high_water ?? null;
        let since: Date | null = null;
        let cursor: string | null = null;
        if (mode === 'incremental' && last) {
          since = new Date((highWater ?? last.started_at).getTime() - lookbackMs);
          cursor = last.last_cursor;
        }
        const res = await tx.query<RunRecord>(sql.insertRun, [...store.key, mode, since, cursor, highWater]);
        return { run: toRun(res.rows[0] as RunRecord), resumed: false };
      });
    },

    /** Leaves a run resumable after an error; best effort (the database may be what failed). */
    async interrupt(run: SyncRun, error: SyncError): Promise<void> {
      await store.db.query(sql.interruptRun, [run.id, error.code, error.message]).catch(() => {});
    },

    /** The conflict when another process closed the run first. */
    closedElsewhere(run: SyncRun): SyncError {
      return new SyncError('syncTable.run', 'run_conflict', `run ${run.id} was closed by another process`, {
        runId: run.id,
      });
    },
  };
}

/** A table's run records, as returned by {@link runRecords}. */
export type RunRecords = ReturnType<typeof runRecords>;
