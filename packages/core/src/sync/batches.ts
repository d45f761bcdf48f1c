import { MissingDependencyError } from '../errors';
import type { SqlExecutor } from '../stores/sql';
import { copyRows } from './copy-text';
import { SyncError } from './errors';
import type { SyncCounts } from './options';
import type { SyncPage } from './pages';
import { cursorTime, type Prepared, type PreparedRecords, pathReader } from './prepare';
import { type RunRecord, type SyncRun, toRun } from './runs';
import { errorMessage, type TableStore } from './table-store';

/**
 * The write path of a batch: compare the hashes with the stored ones (a read,
 * before any transaction), then upsert what changed and record what was seen,
 * together with the run's checkpoint (decisions 0401, 0403, 0406).
 */

type OnInvalid<T> = ((record: T, reason: string) => void) | undefined;

/** One chunk of a batch: the records to send, and the ids found stored with the same hash. */
interface Planned<T> {
  send: Prepared<T>[];
  unchanged: string[];
}

/** Whether to look up stored hashes: off while a first load finds nothing stored. */
export interface Probe {
  lookup: boolean;
}

/** A batch of pages (or of re-checked records), prepared and ready to store. */
export interface PreparedBatch<T> extends PreparedRecords<T> {
  /** Provider pages in the batch (0 for records re-checked by id). */
  pages: number;
  /** The checkpoint after the batch. */
  next: string | null;
  /** The last non-null cursor of the batch's pages. */
  lastCursor: string | null;
}

/** What writing a batch did. */
interface Written {
  inserted: number;
  changed: number;
  failed: number;
  failedIds: string[];
}

/**
 * A first load's COPY straight into `sync_rows` met a stored row (a unique
 * violation): the batch's transaction is void and the batch is stored again
 * with the hash lookup on (decision 1000).
 */
class FreshCopyConflict extends Error {
  constructor(cause: unknown) {
    super('a record of a first-load batch is stored already', { cause });
    this.name = 'FreshCopyConflict';
  }
}

/** Whether `error` (or the store error wrapping it) is a {@link FreshCopyConflict}. */
function isFreshCopyConflict(error: unknown): boolean {
  return (
    error instanceof FreshCopyConflict || (error as { cause?: unknown } | null)?.cause instanceof FreshCopyConflict
  );
}

/** A table's batch writer; chunks of at least `copyMinRows` records to send go by COPY (decision 1000). */
export function batchWriter<T>(
  store: TableStore,
  batchSize: number,
  versionField?: string,
  copyMinRows: number | false = false,
) {
  const { sql } = store;
  // the driver offered COPY but misses its optional package: INSERT from then on
  let copyUnavailable = false;
  const versionPath = versionField?.split('.');
  const versionOf = versionField === undefined ? undefined : pathReader(versionField);

  /**
   * With a `versionField`: drops from `send` the records older than their
   * stored row (read inside `tx`, under the table's lock) and returns their
   * ids, which count as unchanged and as seen.
   */
  async function dropOlder(tx: SqlExecutor, send: Prepared<T>[]): Promise<{ send: Prepared<T>[]; older: string[] }> {
    if (!versionOf || !versionPath || send.length === 0) return { send, older: [] };
    const found = await tx.query<{ external_id: string; version: string | null; kind: string | null }>(sql.versions, [
      ...store.key,
      send.map((d) => d.id),
      versionPath,
    ]);
    if (found.rows.length === 0) return { send, older: [] };
    const stored = new Map<string, number>();
    for (const r of found.rows) {
      const time = r.version === null ? null : cursorTime(r.kind === 'number' ? Number(r.version) : r.version);
      if (time !== null) stored.set(r.external_id, time);
    }
    const kept: Prepared<T>[] = [];
    const older: string[] = [];
    for (const d of send) {
      const current = stored.get(d.id);
      const time = current === undefined ? null : cursorTime(versionOf(d.record));
      if (current !== undefined && time !== null && time < current) older.push(d.id);
      else kept.push(d);
    }
    return { send: kept, older };
  }

  /**
   * Upserts `send` by COPY (decision 1000). When the lookup was skipped (a
   * first load: nothing of the previous chunk was stored), straight into
   * `sync_rows`: the ids are new, so a plain insert is the upsert. A row that
   * exists after all fails the COPY with a unique violation, which aborts the
   * transaction: {@link FreshCopyConflict} tells `storeBatch` to store the
   * batch again with the lookup on. Otherwise into the session's staging
   * table, then one merge statement with the same hash guard, change feed and
   * seen ids as `write`. Returns `undefined` when the driver cannot COPY
   * (nothing was written).
   */
  async function copyWrite(
    tx: SqlExecutor,
    ids: readonly string[],
    hashes: readonly string[],
    data: readonly string[],
    runId: number | null,
    tracksSeen: boolean,
    unchanged: readonly string[],
    fresh: boolean,
  ): Promise<{ inserted: number; changed: number } | undefined> {
    if (copyMinRows === false || copyUnavailable || ids.length < copyMinRows || !tx.copyFrom) return undefined;
    const copyFrom = tx.copyFrom.bind(tx);
    const copy = async (run: () => Promise<unknown>): Promise<boolean> => {
      try {
        await run();
        return true;
      } catch (error) {
        if (error instanceof MissingDependencyError) {
          copyUnavailable = true; // rejected before anything was sent: the transaction is intact
          return false;
        }
        if (fresh && (error as { code?: unknown } | null)?.code === '23505') throw new FreshCopyConflict(error);
        throw error;
      }
    };
    if (fresh) {
      const [tableId] = store.key;
      if (!(await copy(() => copyFrom(sql.rows, sql.rowColumns, copyRows(ids, hashes, data, { tableId, runId }))))) {
        return undefined;
      }
      if (tracksSeen && unchanged.length > 0) await tx.query(sql.addSeen, [runId, unchanged]);
      return { inserted: ids.length, changed: 0 };
    }
    await tx.query(sql.stageCreate);
    if (!(await copy(() => copyFrom(sql.stage, sql.stageColumns, copyRows(ids, hashes, data))))) return undefined;
    const res = await tx.query<{ inserted: number; changed: number }>(sql.merge, [
      ...store.key,
      runId,
      tracksSeen,
      unchanged,
    ]);
    return { inserted: res.rows[0]?.inserted ?? 0, changed: res.rows[0]?.changed ?? 0 };
  }

  /**
   * Splits prepared records into chunks of `batchSize` and looks up their
   * stored hashes, before any transaction (a read, 0406): only new, changed
   * or restored records are to be sent.
   *
   * The lookup is skipped while the previous chunk found no stored rows (a
   * first load): the whole chunk is sent and the upsert's hash guard keeps
   * that correct, only slower when a chunk of unchanged records follows a
   * chunk of new ones.
   */
  async function plan(api: string, items: Prepared<T>[], probe: Probe, runId?: number): Promise<Planned<T>[]> {
    const chunks: Planned<T>[] = [];
    for (let start = 0; start < items.length; start += batchSize) {
      const chunk = items.slice(start, start + batchSize);
      if (!probe.lookup) {
        chunks.push({ send: chunk, unchanged: [] });
        continue;
      }
      const found = await store.query<{ id: string; known: boolean }>(
        api,
        sql.compare,
        [...store.key, chunk.map((c) => c.id), chunk.map((c) => c.hash)],
        runId,
      );
      const send = new Set(found.map((r) => r.id));
      const planned: Planned<T> = { send: [], unchanged: [] };
      for (const c of chunk) {
        if (send.has(c.id)) planned.send.push(c);
        else planned.unchanged.push(c.id);
      }
      chunks.push(planned);
      probe.lookup = send.size < chunk.length || found.some((r) => r.known);
    }
    return chunks;
  }

  /**
   * Writes planned chunks inside `tx` (which holds the table lock): upserts
   * the records to send, and when the run tracks what it saw (a full run
   * that detects deletes) records the ids it did not write as seen.
   */
  async function writeItems(
    tx: SqlExecutor,
    chunks: readonly Planned<T>[],
    runId: number | null,
    tracksSeen: boolean,
    probe: Probe,
    onInvalid: OnInvalid<T>,
  ): Promise<Written> {
    const written: Written = { inserted: 0, changed: 0, failed: 0, failedIds: [] };
    for (const chunk of chunks) {
      const { send, older } = await dropOlder(tx, chunk.send);
      const unchanged = older.length === 0 ? chunk.unchanged : [...chunk.unchanged, ...older];
      const ids: string[] = [];
      const hashes: string[] = [];
      const data: string[] = [];
      for (const d of send) {
        let json: string | undefined;
        try {
          json = d.json ?? JSON.stringify(d.record);
        } catch (error) {
          written.failed++;
          written.failedIds.push(d.id);
          onInvalid?.(d.record as T, `the record is not JSON: ${errorMessage(error)}`);
          continue;
        }
        ids.push(d.id);
        hashes.push(d.hash);
        data.push(json);
      }
      if (ids.length === 0) {
        if (tracksSeen && unchanged.length > 0) await tx.query(sql.addSeen, [runId, unchanged]);
        continue;
      }
      const res =
        (await copyWrite(tx, ids, hashes, data, runId, tracksSeen, unchanged, !probe.lookup)) ??
        (
          await tx.query<{ inserted: number; changed: number }>(sql.write, [
            ...store.key,
            ids,
            hashes,
            `[${data.join(',')}]`,
            runId,
            tracksSeen,
            unchanged,
          ])
        ).rows[0];
      const inserted = res?.inserted ?? 0;
      const changed = res?.changed ?? 0;
      written.inserted += inserted;
      written.changed += changed;
      // stored rows turned up although the lookup was skipped: look up again
      if (!probe.lookup && (changed > 0 || inserted + changed < ids.length)) probe.lookup = true;
    }
    return written;
  }

  /** Counts of a call that stored `items` (and could not store `failed` more). */
  function countsOf(items: number, failed: number, written: Omit<Written, 'failedIds'>): SyncCounts {
    return {
      seen: items + failed,
      inserted: written.inserted,
      changed: written.changed,
      unchanged: items - written.failed - written.inserted - written.changed,
      deleted: 0,
      failed: failed + written.failed,
    };
  }

  /** Stores a batch whose chunks are planned, with its checkpoint (see `storeBatch`). */
  async function storePlanned(
    run: SyncRun,
    batch: PreparedBatch<T>,
    chunks: Planned<T>[],
    tracksSeen: boolean,
    probe: Probe,
    onInvalid: OnInvalid<T>,
  ): Promise<SyncRun> {
    const { items, failed, failedIds } = batch;
    const params = (written: Omit<Written, 'failedIds'>) => {
      const c = countsOf(items.length, failed, written);
      return [
        run.id,
        run.pages,
        batch.next,
        c.seen,
        c.inserted,
        c.changed,
        c.unchanged,
        c.failed,
        batch.pages,
        batch.lastCursor,
        batch.highWater === null ? null : new Date(batch.highWater),
      ];
    };
    const conflict = () =>
      new SyncError(
        'syncTable.run',
        'run_conflict',
        `run ${run.id} was advanced or closed by another process while this one stored page ${run.pages + 1}`,
        { runId: run.id },
      );
    if (failedIds.length === 0 && chunks.every((c) => c.send.length === 0)) {
      // nothing to write (an unchanged batch): one statement, no transaction block, no lock
      const seen = tracksSeen ? chunks.flatMap((c) => c.unchanged) : [];
      const res = await store.query<RunRecord>(
        'syncTable.run',
        sql.checkpointSeen,
        [...params({ inserted: 0, changed: 0, failed: 0 }), seen],
        run.id,
      );
      const updated = res[0];
      if (!updated) throw conflict();
      return toRun(updated);
    }
    return store.locked(
      'syncTable.run',
      async (tx) => {
        const written = await writeItems(tx, chunks, run.id, tracksSeen, probe, onInvalid);
        const unstored = [...failedIds, ...written.failedIds];
        if (tracksSeen && unstored.length > 0) {
          // the provider still has these records: a failed record must not get its stored row deleted
          await tx.query(sql.addSeen, [run.id, unstored]);
        }
        const res = await tx.query<RunRecord>(sql.checkpoint, params(written));
        const updated = res.rows[0];
        if (!updated) throw conflict();
        return toRun(updated);
      },
      { id: run.id, checkpointed: true },
    );
  }

  return {
    /** Builds a batch from buffered pages and their prepared records. */
    prepareBatch(pages: readonly SyncPage<T>[], prepared: PreparedRecords<T>): PreparedBatch<T> {
      return {
        ...prepared,
        pages: pages.length,
        next: pages[pages.length - 1]?.next ?? null,
        lastCursor: pages.findLast((p) => typeof p.next === 'string')?.next ?? null,
      };
    },

    /**
     * Stores a prepared batch and the checkpoint after its last page in one
     * transaction (a batch with nothing to write: one statement); returns the
     * run's updated record.
     * @throws {SyncError} `run_conflict` when another process advanced or closed the run.
     */
    async storeBatch(
      run: SyncRun,
      batch: PreparedBatch<T>,
      tracksSeen: boolean,
      probe: Probe,
      onInvalid: OnInvalid<T>,
    ): Promise<SyncRun> {
      const store = async () =>
        storePlanned(run, batch, await plan('syncTable.run', batch.items, probe, run.id), tracksSeen, probe, onInvalid);
      try {
        return await store();
      } catch (error) {
        if (!isFreshCopyConflict(error)) throw error;
        // stored rows turned up under a first load's COPY: nothing was written; again, looking them up
        probe.lookup = true;
        return store();
      }
    },

    /** Stores records outside a run: one transaction, unchanged records not written. */
    async upsert(prepared: PreparedRecords<T>): Promise<SyncCounts> {
      const { items, failed } = prepared;
      const probe: Probe = { lookup: true };
      const chunks = await plan('syncTable.upsert', items, probe);
      const written = chunks.every((c) => c.send.length === 0)
        ? { inserted: 0, changed: 0, failed: 0 }
        : await store.locked('syncTable.upsert', (tx) => writeItems(tx, chunks, null, false, probe, undefined));
      return countsOf(items.length, failed, written);
    },
  };
}

/** A table's batch writer, as returned by {@link batchWriter}. */
export type BatchWriter<T> = ReturnType<typeof batchWriter<T>>;
