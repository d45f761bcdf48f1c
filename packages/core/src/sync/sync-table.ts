import type { SqlClient } from '../stores/sql';
import { batchWriter, type Probe } from './batches';
import { deleteDetection, deletePolicy } from './deletes';
import { isSyncError, SyncError } from './errors';
import {
  normalizeRunOptions,
  normalizeTableOptions,
  type RunOptions,
  type SyncCounts,
  type SyncTableOptions,
} from './options';
import type { SourceStart, SyncPage, SyncSource } from './pages';
import { type CursorOf, pathReader, recordPreparer } from './prepare';
import { abortedError, readPages } from './run-loop';
import { listed, type RunRecord, runRecords, type SyncRun, type SyncRunResult, toRun } from './runs';
import { errorMessage, tableStore } from './table-store';

/** A raw row of a sync table. */
export interface SyncRow<T = unknown> {
  /** The provider's id of the record. */
  externalId: string;
  /** The record as the provider last sent it (volatile fields as of the last content change). */
  data: T;
  /** SHA-256 of the canonical JSON, volatile fields left out. */
  hash: string;
  /** When a sync first stored the record. */
  firstSeenAt: Date;
  /** When a sync last wrote the row (insert, content change, delete, restore). */
  syncedAt: Date;
  /** When the content last changed. */
  changedAt: Date;
  /** When the record was soft-deleted, or `null`. */
  deletedAt: Date | null;
  /** The run that last wrote the row; `null` for `upsert` and `markDeleted`. */
  runId: number | null;
  /** The row's position in the table's change feed; grows with every change. */
  changeSeq: number;
}

/**
 * One provider entity's raw table for one tenant: the rows, the runs that
 * fill it, and the soft deletes. Only mappers read it into the app's tables.
 */
export interface SyncTable<T = unknown> {
  /** The provider. */
  readonly source: string;
  /** The provider's entity. */
  readonly entity: string;
  /** The tenant. */
  readonly tenant: string;
  /** The schema holding the tables. */
  readonly schema: string;
  /** The database the table lives in. */
  readonly db: SqlClient;
  /**
   * This table's id in `sync_tables` (registered on first use): the
   * `table_id` of its rows in `sync_rows`, for the app's own SQL.
   */
  tableId(): Promise<number>;
  /**
   * Runs a sync: reads the source page by page, stores the pages in batches
   * of `batchSize` records, each in one transaction with the counts and the
   * checkpoint, and for a full run soft-deletes the rows it did not see
   * (within `maxDeleteRatio`). An interrupted run of the same mode is resumed
   * from its checkpoint.
   *
   * @example
   * ```ts
   * const run = await persons.run(source, { mode: 'incremental', onPage: (p) => console.log(p.counts) });
   * if (run.resumed) console.log(`continued run ${run.id} from its checkpoint`);
   * ```
   * @throws {SyncError} `source_failed` or `aborted` (the run stays resumable),
   * `mass_delete` (nothing deleted), `unsafe_deletes` (nothing fetched),
   * `invalid_page`, `invalid_options`, `run_conflict`, `store_failed`.
   */
  run(source: SyncSource<T>, options: RunOptions<T>): Promise<SyncRunResult>;
  /**
   * Stores records outside a run (for example from a webhook): one
   * transaction, unchanged records not written. Never deletes.
   */
  upsert(records: readonly T[]): Promise<SyncCounts>;
  /** Soft-deletes rows by external id; returns how many live rows it marked. */
  markDeleted(externalIds: ReadonlyArray<string | number>): Promise<number>;
  /** Reads one raw row, deleted or not. */
  get(externalId: string | number): Promise<SyncRow<T> | undefined>;
  /** How many rows the table holds. */
  count(options?: { includeDeleted?: boolean }): Promise<number>;
  /** The most recent runs, newest first. */
  runs(options?: { limit?: number }): Promise<SyncRun[]>;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

/** The table's cursor reader: a dotted path or the caller's function; a throw reads as no value. */
function cursorReader<T>(field: SyncTableOptions<T>['cursorField']): CursorOf<T> | undefined {
  if (field === undefined) return undefined;
  const read = typeof field === 'string' ? pathReader(field) : field;
  return (record) => {
    try {
      return read(record);
    } catch {
      return undefined;
    }
  };
}

/**
 * Opens the raw sync table of one provider entity for one tenant. The tables
 * are created by `migrate(db)` (module `sync`).
 *
 * @example
 * ```ts
 * import { syncTable, cursorPages } from '@ballast/core/sync';
 * const persons = syncTable<Person>(db, { source: 'pipedrive', entity: 'persons', volatileFields: ['fetched_at'] });
 * const run = await persons.run(cursorPages({ fetch: fetchPersonsPage }), { mode: 'full' });
 * console.log(run.counts); // { seen, inserted, changed, unchanged, deleted, failed }
 * ```
 * @throws {SyncError} `invalid_options` for a bad option.
 */
export function syncTable<T = unknown>(db: SqlClient, options: SyncTableOptions<T>): SyncTable<T> {
  const opts = normalizeTableOptions(options);
  if (db === null || typeof db !== 'object' || typeof db.transaction !== 'function') {
    throw new SyncError('syncTable', 'invalid_options', 'db must be a SqlClient (createPGlite, createPostgres)');
  }
  const { tenant, source, entity, batchSize } = opts;
  const store = tableStore(db, { schema: opts.schema, tenant, source, entity });
  const { sql } = store;
  const prepare = recordPreparer<T>({
    volatileFields: opts.volatileFields,
    idOf: opts.idOf as ((record: T) => unknown) | undefined,
    cursorOf: cursorReader(opts.cursorField as SyncTableOptions<T>['cursorField']),
    keepRecords: opts.versionField !== undefined,
  });
  const writer = batchWriter<T>(store, batchSize, opts.versionField, opts.copyMinRows);
  const runs = runRecords(store, opts.lookbackMs);
  const deletes = deleteDetection<T>(store, runs, writer, prepare, opts.maxDeleteRatio);

  return {
    source,
    entity,
    tenant,
    schema: store.names.schema,
    db,
    tableId: () => store.tableId('syncTable.tableId'),

    async run(src, runOptions) {
      const ro = normalizeRunOptions(runOptions);
      const resumable = typeof src === 'function';
      if (!resumable && !isAsyncIterable(src)) {
        throw new SyncError(
          'syncTable.run',
          'invalid_options',
          'source must be a function (start) => AsyncIterable<page> or an async iterable of pages',
        );
      }
      // decided before anything is fetched: an unsafe full run is refused here
      const policy = deletePolicy<T>(ro, src);
      await store.tableId('syncTable.run');

      // 1. open the run, or resume the interrupted one from its checkpoint
      const opened = await runs.open(ro.mode, ro.resume, resumable);
      let run: SyncRun = opened.run;
      let known: { unseen?: 0 } = {};
      const probe: Probe = { lookup: true };
      const onInvalid = ro.onInvalidRecord;
      const tracksSeen = ro.mode === 'full';
      try {
        // 2. read the pages and store them batch by batch (skipped when a resumed run had stored its last page)
        if (!listed(run)) {
          const start: SourceStart = {
            mode: ro.mode,
            cursor: run.cursor,
            since: run.since,
            lastCursor: run.fromCursor,
            signal: ro.signal,
          };
          if (ro.signal?.aborted) throw abortedError({ runId: run.id, pages: run.pages }, ro.signal);
          const iterable = resumable ? (src as (s: SourceStart) => AsyncIterable<SyncPage<T>>)(start) : src;
          if (!isAsyncIterable(iterable)) {
            throw new SyncError(
              'syncTable.run',
              'invalid_page',
              'the source function did not return an async iterable',
              {
                runId: run.id,
              },
            );
          }
          await readPages(iterable, {
            batchSize,
            signal: ro.signal,
            progress: () => ({ runId: run.id, pages: run.pages }),
            prepare: async (pages) => {
              const records = pages.length === 1 ? (pages[0] as SyncPage<T>).records : pages.flatMap((p) => p.records);
              // a first load sends every record: serialize while hashing, as the previous batch is stored
              return writer.prepareBatch(pages, await prepare(records, onInvalid, !probe.lookup));
            },
            store: async (batch) => {
              run = await writer.storeBatch(run, batch, tracksSeen, probe, onInvalid);
              ro.onPage?.({ runId: run.id, pages: run.pages, counts: run.counts, cursor: run.cursor });
            },
          });
        }
        // 3. full runs over sources that can re-fetch by id: re-check the delete candidates
        ({ run, ...known } = await deletes.recheck(run, policy, ro, probe));
      } catch (error) {
        const failure = isSyncError(error)
          ? error
          : new SyncError('syncTable.run', 'source_failed', `run ${run.id} failed: ${errorMessage(error)}`, {
              runId: run.id,
              cause: error,
            });
        if (failure.code !== 'run_conflict') await runs.interrupt(run, failure);
        throw failure;
      }
      // 4. soft-delete what a full run did not see (within the guard) and close the run
      const finished = await deletes.close(run, policy, ro, known);
      return { ...finished, resumed: opened.resumed };
    },

    async upsert(records) {
      if (!Array.isArray(records)) {
        throw new SyncError('syncTable.upsert', 'invalid_options', 'records must be an array');
      }
      await store.tableId('syncTable.upsert');
      return writer.upsert(await prepare(records, undefined));
    },

    async markDeleted(externalIds) {
      if (!Array.isArray(externalIds)) {
        throw new SyncError('syncTable.markDeleted', 'invalid_options', 'externalIds must be an array');
      }
      const ids = externalIds.map((id) => {
        if ((typeof id !== 'string' || id.length === 0) && !(typeof id === 'number' && Number.isFinite(id))) {
          throw new SyncError(
            'syncTable.markDeleted',
            'invalid_options',
            `external ids must be non-empty strings or finite numbers, got ${JSON.stringify(id)}`,
          );
        }
        return String(id);
      });
      if (ids.length === 0) return 0;
      await store.tableId('syncTable.markDeleted');
      return store.locked(
        'syncTable.markDeleted',
        async (tx) => (await tx.query(sql.markDeleted, [...store.key, ids])).rowCount,
      );
    },

    async get(externalId) {
      await store.tableId('syncTable.get');
      const found = await store.query<{
        external_id: string;
        data: T;
        hash: string;
        first_seen_at: Date;
        synced_at: Date;
        changed_at: Date;
        deleted_at: Date | null;
        run_id: string | number | null;
        change_seq: string | number;
      }>('syncTable.get', sql.getRow, [...store.key, String(externalId)]);
      const r = found[0];
      if (!r) return undefined;
      return {
        externalId: r.external_id,
        data: r.data,
        hash: r.hash,
        firstSeenAt: r.first_seen_at,
        syncedAt: r.synced_at,
        changedAt: r.changed_at,
        deletedAt: r.deleted_at,
        runId: r.run_id === null ? null : Number(r.run_id),
        changeSeq: Number(r.change_seq),
      };
    },

    async count(countOptions = {}) {
      await store.tableId('syncTable.count');
      const text = countOptions.includeDeleted ? sql.countAll : sql.countLive;
      const found = await store.query<{ n: number }>('syncTable.count', text, store.key);
      return found[0]?.n ?? 0;
    },

    async runs(listOptions = {}) {
      const limit = listOptions.limit ?? 20;
      if (!Number.isInteger(limit) || limit < 1) {
        throw new SyncError('syncTable.runs', 'invalid_options', `limit must be a positive integer, got ${limit}`);
      }
      await store.tableId('syncTable.runs');
      const found = await store.query<RunRecord>('syncTable.runs', sql.listRuns, [...store.key, limit]);
      return found.map(toRun);
    },
  };
}
