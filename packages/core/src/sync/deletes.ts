import type { BatchWriter, Probe } from './batches';
import { SyncError } from './errors';
import type { NormalizedRunOptions } from './options';
import type { FetchByIds } from './pages';
import type { PreparedRecords } from './prepare';
import { abortedError } from './run-loop';
import type { RunRecords, SyncRun } from './runs';
import { type RunRecord, toRun } from './runs';
import { errorMessage, type TableStore } from './table-store';

/**
 * Delete detection of full runs: the live rows a run neither saw nor wrote
 * are soft-deleted when its source ends normally, within the mass-delete
 * guard (decisions 0405, 0407). Over a source whose pages are offsets, a
 * record deleted at the provider mid-run shifts the later pages and a live
 * record goes unseen: such a run needs `fetchByIds` to re-check its delete
 * candidates, or refuses to start (decision 0409).
 */

/** How a run treats deletes, decided before it starts. */
export interface DeletePolicy<T> {
  /** Soft-delete unseen rows at the end (full runs with `detectDeletes`). */
  detect: boolean;
  /** Re-checks delete candidates by id before they are deleted. */
  fetchByIds: FetchByIds<T> | undefined;
}

/** What a source may declare about itself (see `PageSource`). */
interface SourceTraits<T> {
  offsetPaged?: boolean;
  fetchByIds?: FetchByIds<T>;
}

/** Delete candidates passed to one `fetchByIds` call. */
export const RECHECK_CHUNK = 100;

interface Tally {
  live: number;
  missing: number;
}

const overRatio = ({ live, missing }: Tally, ratio: number) => missing > 0 && missing > live * ratio;

/** Decides how a run treats deletes; refuses a full run that could delete live rows unchecked. */
export function deletePolicy<T>(ro: NormalizedRunOptions, source: unknown): DeletePolicy<T> {
  const traits = (
    typeof source === 'function' || (typeof source === 'object' && source !== null) ? source : {}
  ) as SourceTraits<T>;
  const fetchByIds = typeof traits.fetchByIds === 'function' ? traits.fetchByIds : undefined;
  const detect = ro.mode === 'full' && ro.detectDeletes;
  if (detect && traits.offsetPaged === true && !fetchByIds) {
    throw new SyncError(
      'syncTable.run',
      'unsafe_deletes',
      'a full run over offset pages cannot detect deletes safely: a record deleted at the provider during the run ' +
        'shifts the later pages, so a live record is skipped and would be deleted. Give offsetPages a fetchByIds to ' +
        're-check the delete candidates, or run with { detectDeletes: false }.',
    );
  }
  return { detect, fetchByIds };
}

/** A table's delete detection. */
export function deleteDetection<T>(
  store: TableStore,
  runs: RunRecords,
  writer: BatchWriter<T>,
  prepare: (records: readonly T[], onInvalid: NormalizedRunOptions['onInvalidRecord']) => Promise<PreparedRecords<T>>,
  tableRatio: number,
) {
  const { sql } = store;

  function refusal(run: SyncRun, tally: Tally, ratio: number): SyncError {
    const { live, missing } = tally;
    const share = live > 0 ? ((missing / live) * 100).toFixed(1) : '100.0';
    return new SyncError(
      'syncTable.run',
      'mass_delete',
      `full run ${run.id} did not see ${missing} of the ${live} rows live when it started (${share}%), more than maxDeleteRatio ${ratio}: ` +
        'nothing was deleted. If the provider really lost them, run again with { force: true }.',
      { runId: run.id, wouldDelete: missing, known: live, maxDeleteRatio: ratio },
    );
  }

  return {
    /**
     * Re-checks the delete candidates of a listed full run through
     * `fetchByIds`: the records the provider still has are stored (as seen),
     * the rest stay candidates. Skipped when the guard will refuse anyway
     * (no provider calls for a run that deletes nothing). Returns the run's
     * updated record, and `unseen: 0` when it found no candidate at all (the
     * unseen rows only ever shrink during a run, so the close need not look
     * again: one scan of the table's rows, as without a re-check).
     * @throws {SyncError} `source_failed` or `aborted`: the run stays resumable and goes straight back here.
     */
    async recheck(
      run: SyncRun,
      policy: DeletePolicy<T>,
      ro: NormalizedRunOptions,
      probe: Probe,
    ): Promise<{ run: SyncRun; unseen?: 0 }> {
      const fetchByIds = policy.fetchByIds;
      if (!policy.detect || !fetchByIds) return { run };
      const api = 'syncTable.run';
      const candidates = await store.query<{ external_id: string }>(api, sql.unseen, [...store.key, run.id], run.id);
      if (candidates.length === 0) return { run, unseen: 0 };
      const tally = { live: run.liveAtStart ?? Number.POSITIVE_INFINITY, missing: candidates.length };
      if (overRatio(tally, ro.maxDeleteRatio ?? tableRatio) && !ro.force) return { run };
      const ids = candidates.map((c) => c.external_id);
      for (let start = 0; start < ids.length; start += RECHECK_CHUNK) {
        if (ro.signal?.aborted) throw abortedError({ runId: run.id, pages: run.pages }, ro.signal);
        const chunk = ids.slice(start, start + RECHECK_CHUNK);
        let found: unknown;
        try {
          found = await fetchByIds(chunk, { signal: ro.signal });
        } catch (error) {
          if (ro.signal?.aborted) throw abortedError({ runId: run.id, pages: run.pages }, ro.signal);
          throw new SyncError(
            api,
            'source_failed',
            `fetchByIds failed re-checking ${chunk.length} delete candidates of run ${run.id}: ${errorMessage(error)}`,
            { runId: run.id, cause: error },
          );
        }
        if (!Array.isArray(found)) {
          throw new SyncError(
            api,
            'invalid_page',
            `fetchByIds must resolve to an array of records, got ${typeof found}`,
            {
              runId: run.id,
            },
          );
        }
        const prepared = await prepare(found as T[], ro.onInvalidRecord);
        const batch = { ...prepared, pages: 0, next: null, lastCursor: null };
        run = await writer.storeBatch(run, batch, true, probe, ro.onInvalidRecord);
        ro.onPage?.({ runId: run.id, pages: run.pages, counts: run.counts, cursor: run.cursor });
      }
      return { run };
    },

    /**
     * Ends a listed run: a full run detecting deletes soft-deletes its unseen
     * rows within the ratio; the run is marked completed, or failed when the
     * guard refused. `unseen: 0` (from the re-check), or no live row when
     * the run opened, skips the look for unseen rows.
     * @throws {SyncError} `mass_delete` (nothing deleted), `run_conflict`.
     */
    async close(
      run: SyncRun,
      policy: DeletePolicy<T>,
      ro: NormalizedRunOptions,
      known: { unseen?: 0 } = {},
    ): Promise<SyncRun> {
      const ratio = ro.maxDeleteRatio ?? tableRatio;
      let refused: SyncError | undefined;
      const closed = await store.locked(
        'syncTable.run',
        async (tx) => {
          let deleted = 0;
          // no row was live when the run opened (a first load): every live row now was written during the
          // run, none can be unseen, and the look (a scan of the table's live rows) is skipped
          if (policy.detect && known.unseen !== 0 && run.liveAtStart !== 0) {
            const tally = (await tx.query<Tally>(sql.tally, [...store.key, run.id])).rows[0] ?? { live: 0, missing: 0 };
            if (overRatio(tally, ratio) && !ro.force) refused = refusal(run, tally, ratio);
            else if (tally.missing > 0) deleted = (await tx.query(sql.deleteUnseen, [...store.key, run.id])).rowCount;
          }
          if (run.mode === 'full') await tx.query(sql.clearSeen, [run.id]);
          const res = await tx.query<RunRecord>(sql.closeRun, [
            run.id,
            run.pages,
            refused ? 'failed' : 'completed',
            deleted,
            refused?.code ?? null,
            refused?.message ?? null,
          ]);
          const updated = res.rows[0];
          if (!updated) throw runs.closedElsewhere(run);
          return toRun(updated);
        },
        { id: run.id, checkpointed: false },
      );
      if (refused) throw refused;
      return closed;
    },
  };
}
