import { type SqlClient, type SqlExecutor, sqlNames } from '../stores/sql';
import { canonicalizer, sha256Hex, sha256HexSync } from './canonical';
import { isSyncError, SyncError } from './errors';
import {
  type NormalizedRunOptions,
  normalizeRunOptions,
  normalizeTableOptions,
  type RunOptions,
  type SyncCounts,
  type SyncTableOptions,
} from './options';
import type { SourceStart, SyncPage, SyncSource } from './pages';

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
  /** Incremental runs: the `since` the source is given (when the previous completed run started). */
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
   * `mass_delete` (nothing deleted), `invalid_page`, `invalid_options`,
   * `run_conflict`, `store_failed`.
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

interface RunRecord {
  id: string | number;
  mode: 'full' | 'incremental';
  status: SyncRunStatus;
  since: Date | null;
  from_cursor: string | null;
  cursor: string | null;
  last_cursor: string | null;
  pages: number;
  seen: number;
  inserted: number;
  changed: number;
  unchanged: number;
  deleted: number;
  failed: number;
  live_at_start: number | null;
  error_code: string | null;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

const RUN_COLUMNS =
  'id, mode, status, since, from_cursor, cursor, last_cursor, pages, seen, inserted, changed, unchanged, deleted, failed, live_at_start, error_code, error, started_at, finished_at';

function toRun(r: RunRecord): SyncRun {
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
    errorCode: r.error_code,
    error: r.error,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

interface Prepared<T> {
  id: string;
  hash: string;
  record: T;
  /** The record's JSON, when serialized ahead (first loads send every record). */
  json?: string;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

/** Records hashed between two yields to the event loop. */
const YIELD_EVERY = 200;

const schedule: (fn: () => void) => void =
  (globalThis as { setImmediate?: (fn: () => void) => void }).setImmediate ?? ((fn) => setTimeout(fn, 0));

/** Resolves after pending I/O callbacks ran (a macrotask, not a microtask). */
const yieldToIo = (): Promise<void> => new Promise((resolve) => schedule(resolve));

const defaultIdOf = (record: unknown): unknown => (record as { id?: unknown } | null | undefined)?.id;

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
  let names: ReturnType<typeof sqlNames>;
  try {
    names = sqlNames(opts.schema);
  } catch (error) {
    throw new SyncError('syncTable', 'invalid_options', errorMessage(error), { cause: error });
  }
  const { tenant, source, entity, batchSize } = opts;
  const canonical = canonicalizer(opts.volatileFields);
  const idOf = (opts.idOf as ((record: T) => unknown) | undefined) ?? defaultIdOf;

  const tablesTable = names.table('sync_tables');
  const rows = names.table('sync_rows');
  const runs = names.table('sync_runs');
  const seenTable = names.table('sync_seen');
  const changeSeq = `nextval('${names.table('sync_change_seq')}')`;
  const lockKey = `ballast:sync:${names.schema}:${tenant}:${source}:${entity}`;
  const KEY = 'table_id = $1';

  const sql = {
    lock: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
    // run batches only: their checkpoint commits with them, so a crash that
    // loses the last commits loses data and checkpoint together, and the
    // resumed run fetches those pages again (decision 0403)
    lockRelaxed: "SELECT pg_advisory_xact_lock(hashtextextended($1, 0)), set_config('synchronous_commit', 'off', true)",
    // Compares the hashes of a chunk with the stored ones (one index probe per
    // id: the LATERAL ... LIMIT 1 keeps that plan whatever the statistics
    // say) and returns the ids that must be sent: new, changed, or back from a
    // soft delete. A read: it runs before the batch's transaction (0406).
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
    // Upserts the records sent and writes only those whose hash differs or
    // that come back from a soft delete. In a full run ($6), the ids the
    // compare found unchanged ($7) and the sent records the hash guard skipped
    // (the compare was skipped, or another writer got there first) go to
    // sync_seen.
    write: `WITH input AS (
        SELECT * FROM ROWS FROM (unnest($2::text[]), unnest($3::text[]), jsonb_array_elements($4::jsonb))
          AS i(external_id, hash, data)
      ), up AS (
        INSERT INTO ${rows} AS r (table_id, external_id, data, hash, run_id)
        SELECT $1, i.external_id, i.data, i.hash, $5 FROM input i
        ON CONFLICT (table_id, external_id) DO UPDATE SET
          data = excluded.data, hash = excluded.hash, synced_at = now(), changed_at = now(),
          deleted_at = NULL, run_id = excluded.run_id, change_seq = excluded.change_seq
        WHERE r.hash <> excluded.hash OR r.deleted_at IS NOT NULL
        RETURNING external_id, (xmax = 0) AS inserted
      ), seen AS (
        INSERT INTO ${seenTable} (run_id, external_ids)
        SELECT $5, array_agg(s.id) FROM (
          SELECT i.external_id AS id FROM input i
          WHERE NOT EXISTS (SELECT 1 FROM up WHERE up.external_id = i.external_id)
          UNION ALL SELECT unnest($7::text[])
        ) s WHERE $6 HAVING count(*) > 0
      )
      SELECT (count(*) FILTER (WHERE inserted))::int AS inserted, (count(*) FILTER (WHERE NOT inserted))::int AS changed FROM up`,
  };

  // Adds a stored batch's counts to its run and moves the checkpoint, with a
  // compare-and-set on the page count and status ($1 run, $2 pages before).
  const checkpoint = `UPDATE ${runs} SET pages = pages + $9, cursor = $3, last_cursor = coalesce($10, last_cursor),
      seen = seen + $4, inserted = inserted + $5, changed = changed + $6, unchanged = unchanged + $7,
      failed = failed + $8, updated_at = now()
    WHERE id = $1 AND pages = $2 AND status = 'running' RETURNING ${RUN_COLUMNS}`;
  // A batch with nothing to write: the checkpoint and the seen ids ($11) in
  // one statement, atomic without a transaction block or the table lock (it
  // writes no sync row), committed with synchronous_commit off like every
  // run batch (0403, 0406).
  const checkpointSeen = `WITH run AS (${checkpoint}), seen AS (
      INSERT INTO ${seenTable} (run_id, external_ids) SELECT id, $11::text[] FROM run WHERE cardinality($11::text[]) > 0
    )
    SELECT run.*, set_config('synchronous_commit', 'off', true) AS relaxed FROM run`;

  /** This table's id in sync_tables, registered on first use; `[id]` once resolved. */
  let key: readonly [number] = [0];
  let resolved: Promise<number> | undefined;
  function tableId(api: string): Promise<number> {
    resolved ??= (async () => {
      const register = `WITH ins AS (
          INSERT INTO ${tablesTable} (tenant, source, entity) VALUES ($1, $2, $3)
          ON CONFLICT (tenant, source, entity) DO NOTHING RETURNING id
        )
        SELECT id FROM ins UNION ALL SELECT id FROM ${tablesTable} WHERE tenant = $1 AND source = $2 AND entity = $3`;
      // a concurrent first registration can hide the row from this statement's snapshot: ask twice
      for (let attempt = 0; ; attempt++) {
        const found = await query<{ id: number }>(api, register, [tenant, source, entity]);
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
  }

  /**
   * Reads ids and hashes of records; deduplicates ids (the last wins). Hashes
   * as it goes where the runtime hashes synchronously (node:crypto), else per
   * batch (Web Crypto). Serializing waits until a record must be sent.
   */
  async function prepare(
    records: readonly T[],
    onInvalid: ((record: T, reason: string) => void) | undefined,
  ): Promise<{ items: Prepared<T>[]; failed: number; failedIds: string[] }> {
    const items: (Prepared<T> | undefined)[] = [];
    // position in `items` of each id; a repeated id empties its earlier position
    const at = new Map<string, number>();
    // canonical texts waiting for an asynchronous digest, by position in `items`
    const texts: string[] = [];
    let failed = 0;
    const failedIds: string[] = [];
    let done = 0;
    for (const record of records) {
      // let the batch being stored take its next round trip while this one is hashed
      if (++done % YIELD_EVERY === 0) await yieldToIo();
      let reason: string | undefined;
      let id: unknown;
      try {
        id = idOf(record);
      } catch (error) {
        reason = `idOf threw: ${errorMessage(error)}`;
      }
      if (reason === undefined) {
        if (typeof id === 'number' && Number.isFinite(id)) id = String(id);
        if (typeof id !== 'string' || id.length === 0) reason = 'the record has no string or finite number id';
      }
      if (reason === undefined && (record === null || typeof record !== 'object' || Array.isArray(record))) {
        reason = 'the record is not a JSON object';
      }
      if (reason === undefined) {
        let text: string | undefined;
        try {
          text = canonical(record);
        } catch (error) {
          reason = `the record is not JSON: ${errorMessage(error)}`;
          failedIds.push(id as string);
        }
        if (text !== undefined) {
          const earlier = at.get(id as string);
          if (earlier !== undefined) items[earlier] = undefined;
          at.set(id as string, items.length);
          if (sha256HexSync) {
            items.push({ id: id as string, record, hash: sha256HexSync(text) });
          } else {
            texts[items.length] = text;
            items.push({ id: id as string, record, hash: '' });
          }
        }
      }
      if (reason !== undefined) {
        failed++;
        onInvalid?.(record, reason);
      }
    }
    if (!sha256HexSync) {
      const positions = items.flatMap((item, i) => (item ? [i] : []));
      const hashes = await sha256Hex(positions.map((i) => texts[i] as string));
      positions.forEach((i, k) => {
        (items[i] as Prepared<T>).hash = hashes[k] as string;
      });
    }
    return { items: items.filter((item) => item !== undefined), failed, failedIds };
  }

  /** One chunk of a batch: the records to send, and the ids found stored with the same hash. */
  interface Planned {
    send: Prepared<T>[];
    unchanged: string[];
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
  async function plan(
    api: string,
    items: Prepared<T>[],
    probe: { lookup: boolean },
    runId?: number,
  ): Promise<Planned[]> {
    const chunks: Planned[] = [];
    for (let start = 0; start < items.length; start += batchSize) {
      const chunk = items.slice(start, start + batchSize);
      if (!probe.lookup) {
        chunks.push({ send: chunk, unchanged: [] });
        continue;
      }
      const found = await query<{ id: string; known: boolean }>(
        api,
        sql.compare,
        [...key, chunk.map((c) => c.id), chunk.map((c) => c.hash)],
        runId,
      );
      const send = new Set(found.map((r) => r.id));
      const planned: Planned = { send: [], unchanged: [] };
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
   * the records to send, and in a full run records the ids it did not write
   * as seen.
   */
  async function writeItems(
    tx: SqlExecutor,
    chunks: readonly Planned[],
    runId: number | null,
    full: boolean,
    probe: { lookup: boolean },
    onInvalid: ((record: T, reason: string) => void) | undefined,
  ): Promise<{ inserted: number; changed: number; failed: number; failedIds: string[] }> {
    let inserted = 0;
    let changed = 0;
    let failed = 0;
    const failedIds: string[] = [];
    for (const { send, unchanged } of chunks) {
      const ids: string[] = [];
      const hashes: string[] = [];
      const data: string[] = [];
      for (const d of send) {
        let json: string | undefined;
        try {
          json = d.json ?? JSON.stringify(d.record);
        } catch (error) {
          failed++;
          failedIds.push(d.id);
          onInvalid?.(d.record, `the record is not JSON: ${errorMessage(error)}`);
          continue;
        }
        ids.push(d.id);
        hashes.push(d.hash);
        data.push(json);
      }
      if (ids.length === 0) {
        if (full && unchanged.length > 0) {
          await tx.query(`INSERT INTO ${seenTable} (run_id, external_ids) VALUES ($1, $2::text[])`, [runId, unchanged]);
        }
        continue;
      }
      const res = await tx.query<{ inserted: number; changed: number }>(sql.write, [
        ...key,
        ids,
        hashes,
        `[${data.join(',')}]`,
        runId,
        full,
        unchanged,
      ]);
      const written = (res.rows[0]?.inserted ?? 0) + (res.rows[0]?.changed ?? 0);
      inserted += res.rows[0]?.inserted ?? 0;
      changed += res.rows[0]?.changed ?? 0;
      // stored rows turned up although the lookup was skipped: look up again
      if (!probe.lookup && ((res.rows[0]?.changed ?? 0) > 0 || written < ids.length)) probe.lookup = true;
    }
    return { inserted, changed, failed, failedIds };
  }

  /** Runs `fn` in a transaction that holds this table's write lock; database errors become `store_failed`. */
  async function locked<R>(
    api: string,
    fn: (tx: SqlExecutor) => Promise<R>,
    run?: { id: number; checkpointed: boolean },
  ): Promise<R> {
    const runId = run?.id;
    try {
      return await db.transaction(async (tx) => {
        await tx.query(run?.checkpointed ? sql.lockRelaxed : sql.lock, [lockKey]);
        return fn(tx);
      });
    } catch (error) {
      if (isSyncError(error)) throw error;
      throw new SyncError(api, 'store_failed', `the database refused a statement: ${errorMessage(error)}`, {
        cause: error,
        ...(runId === undefined ? {} : { runId }),
      });
    }
  }

  async function query<R>(api: string, text: string, params: readonly unknown[], runId?: number): Promise<R[]> {
    try {
      return (await db.query<R>(text, params)).rows;
    } catch (error) {
      throw new SyncError(api, 'store_failed', `the database refused a statement: ${errorMessage(error)}`, {
        cause: error,
        ...(runId === undefined ? {} : { runId }),
      });
    }
  }

  /** Opens a run, or reopens the interrupted one; abandons an open run it cannot resume. */
  async function openRun(ro: NormalizedRunOptions, resumable: boolean): Promise<{ run: SyncRun; resumed: boolean }> {
    return locked('syncTable.run', async (tx) => {
      const open = await tx.query<RunRecord>(
        `SELECT ${RUN_COLUMNS} FROM ${runs} WHERE ${KEY} AND status IN ('running', 'interrupted') FOR UPDATE`,
        key,
      );
      const current = open.rows[0];
      if (current) {
        if (ro.resume && resumable && current.mode === ro.mode) {
          const res = await tx.query<RunRecord>(
            `UPDATE ${runs} SET status = 'running', error_code = NULL, error = NULL, updated_at = now() WHERE id = $1 RETURNING ${RUN_COLUMNS}`,
            [current.id],
          );
          return { run: toRun(res.rows[0] as RunRecord), resumed: true };
        }
        await tx.query(
          `UPDATE ${runs} SET status = 'abandoned', finished_at = now(), updated_at = now() WHERE id = $1`,
          [current.id],
        );
        await tx.query(`DELETE FROM ${seenTable} WHERE run_id = $1`, [current.id]);
      }
      let since: Date | null = null;
      let cursor: string | null = null;
      if (ro.mode === 'incremental') {
        const last = await tx.query<{ started_at: Date; last_cursor: string | null }>(
          `SELECT started_at, last_cursor FROM ${runs} WHERE ${KEY} AND status = 'completed' ORDER BY id DESC LIMIT 1`,
          key,
        );
        since = last.rows[0]?.started_at ?? null;
        cursor = last.rows[0]?.last_cursor ?? null;
      }
      // a full run's mass-delete guard compares with the rows live now, not with what the run adds
      const res = await tx.query<RunRecord>(
        `INSERT INTO ${runs} (table_id, mode, status, since, from_cursor, last_cursor, live_at_start)
         VALUES ($1, $2, 'running', $3, $4, $4,
           CASE WHEN $2 = 'full' THEN (SELECT count(*) FROM ${rows} WHERE ${KEY} AND deleted_at IS NULL) END)
         RETURNING ${RUN_COLUMNS}`,
        [...key, ro.mode, since, cursor],
      );
      return { run: toRun(res.rows[0] as RunRecord), resumed: false };
    });
  }

  /** A batch of pages, hashed and ready to store. */
  interface PreparedBatch {
    items: Prepared<T>[];
    failed: number;
    /** Ids of records that could not be stored: still present at the provider, never deleted for it. */
    failedIds: string[];
    pages: number;
    next: string | null;
    lastCursor: string | null;
  }

  /** Reads ids and hashes of buffered pages (CPU work, done while the previous batch is being stored). */
  async function prepareBatch(
    pages: readonly SyncPage<T>[],
    ro: NormalizedRunOptions,
    probe: { lookup: boolean },
  ): Promise<PreparedBatch> {
    const records = pages.length === 1 ? (pages[0] as SyncPage<T>).records : pages.flatMap((p) => p.records);
    const { items, failed, failedIds } = await prepare(records, ro.onInvalidRecord);
    if (!probe.lookup) {
      // a first load sends every record: serialize now, while the previous batch is stored
      for (const [i, item] of items.entries()) {
        if (i > 0 && i % YIELD_EVERY === 0) await yieldToIo();
        try {
          item.json = JSON.stringify(item.record);
        } catch {
          // left for the store step, which counts it as failed
        }
      }
    }
    return {
      items,
      failed,
      failedIds,
      pages: pages.length,
      next: pages[pages.length - 1]?.next ?? null,
      lastCursor: pages.findLast((p) => typeof p.next === 'string')?.next ?? null,
    };
  }

  /**
   * Stores a prepared batch and the checkpoint after its last page in one
   * transaction; returns the run's updated record.
   */
  async function storeBatch(
    run: SyncRun,
    batch: PreparedBatch,
    ro: NormalizedRunOptions,
    probe: { lookup: boolean },
  ): Promise<SyncRun> {
    const { items, failed, failedIds, next, lastCursor } = batch;
    const full = ro.mode === 'full';
    const chunks = await plan('syncTable.run', items, probe, run.id);
    const counts = (written: { inserted: number; changed: number; failed: number }) => [
      run.id,
      run.pages,
      next,
      items.length + failed,
      written.inserted,
      written.changed,
      items.length - written.failed - written.inserted - written.changed,
      failed + written.failed,
      batch.pages,
      lastCursor,
    ];
    const conflict = () =>
      new SyncError(
        'syncTable.run',
        'run_conflict',
        `run ${run.id} was advanced or closed by another process while this one stored page ${run.pages + 1}`,
        { runId: run.id },
      );
    if (failedIds.length === 0 && chunks.every((c) => c.send.length === 0)) {
      // nothing to write (an unchanged batch): one statement, no transaction block, no lock
      const seen = full ? chunks.flatMap((c) => c.unchanged) : [];
      const res = await query<RunRecord>(
        'syncTable.run',
        checkpointSeen,
        [...counts({ inserted: 0, changed: 0, failed: 0 }), seen],
        run.id,
      );
      const updated = res[0];
      if (!updated) throw conflict();
      return toRun(updated);
    }
    return locked(
      'syncTable.run',
      async (tx) => {
        const written = await writeItems(tx, chunks, run.id, full, probe, ro.onInvalidRecord);
        const unstored = [...failedIds, ...written.failedIds];
        if (full && unstored.length > 0) {
          // the provider still has these records: a failed record must not get its stored row deleted
          await tx.query(`INSERT INTO ${seenTable} (run_id, external_ids) VALUES ($1, $2::text[])`, [run.id, unstored]);
        }
        const res = await tx.query<RunRecord>(checkpoint, counts(written));
        const updated = res.rows[0];
        if (!updated) throw conflict();
        return toRun(updated);
      },
      { id: run.id, checkpointed: true },
    );
  }

  /** Ends a run: full runs soft-delete unseen rows within the ratio; marks the run completed or failed. */
  async function finishRun(run: SyncRun, ro: NormalizedRunOptions): Promise<SyncRun> {
    const ratio = ro.maxDeleteRatio ?? opts.maxDeleteRatio;
    let refusal: SyncError | undefined;
    const finished = await locked(
      'syncTable.run',
      async (tx) => {
        let deleted = 0;
        if (run.mode === 'full') {
          // Unseen: live, not written since the run started (what the run wrote, it saw),
          // and not recorded as seen unchanged. EXCEPT is a hash or sort set operation,
          // never a nested loop, whatever the planner's statistics say.
          const unseen = `SELECT external_id FROM ${rows} WHERE ${KEY} AND deleted_at IS NULL
              AND changed_at < (SELECT started_at FROM ${runs} WHERE id = $2)
            EXCEPT
            SELECT unnest(external_ids) FROM ${seenTable} WHERE run_id = $2`;
          const tally = await tx.query<{ live: number; missing: number }>(
            `SELECT coalesce((SELECT live_at_start FROM ${runs} WHERE id = $2),
                      (SELECT count(*) FROM ${rows} WHERE ${KEY} AND deleted_at IS NULL))::int AS live,
                    (SELECT count(*) FROM (${unseen}) u)::int AS missing`,
            [...key, run.id],
          );
          const { live = 0, missing = 0 } = tally.rows[0] ?? {};
          if (missing > 0 && missing > live * ratio && !ro.force) {
            const share = live > 0 ? ((missing / live) * 100).toFixed(1) : '100.0';
            refusal = new SyncError(
              'syncTable.run',
              'mass_delete',
              `full run ${run.id} did not see ${missing} of the ${live} rows live when it started (${share}%), more than maxDeleteRatio ${ratio}: ` +
                'nothing was deleted. If the provider really lost them, run again with { force: true }.',
              { runId: run.id, wouldDelete: missing, known: live, maxDeleteRatio: ratio },
            );
          } else if (missing > 0) {
            const res = await tx.query(
              `UPDATE ${rows} SET deleted_at = now(), synced_at = now(), run_id = $2, change_seq = ${changeSeq}
               WHERE ${KEY} AND external_id IN (${unseen})`,
              [...key, run.id],
            );
            deleted = res.rowCount;
          }
          await tx.query(`DELETE FROM ${seenTable} WHERE run_id = $1`, [run.id]);
        }
        const res = await tx.query<RunRecord>(
          `UPDATE ${runs} SET status = $3, deleted = deleted + $4, error_code = $5, error = $6,
             finished_at = now(), updated_at = now()
           WHERE id = $1 AND pages = $2 AND status = 'running' RETURNING ${RUN_COLUMNS}`,
          [
            run.id,
            run.pages,
            refusal ? 'failed' : 'completed',
            deleted,
            refusal?.code ?? null,
            refusal?.message ?? null,
          ],
        );
        const updated = res.rows[0];
        if (!updated) {
          throw new SyncError('syncTable.run', 'run_conflict', `run ${run.id} was closed by another process`, {
            runId: run.id,
          });
        }
        return toRun(updated);
      },
      { id: run.id, checkpointed: false },
    );
    if (refusal) throw refusal;
    return finished;
  }

  /** Leaves a run resumable after an error; best effort (the database may be what failed). */
  async function interrupt(run: SyncRun, error: SyncError): Promise<void> {
    await db
      .query(
        `UPDATE ${runs} SET status = 'interrupted', error_code = $2, error = $3, updated_at = now() WHERE id = $1 AND status = 'running'`,
        [run.id, error.code, error.message],
      )
      .catch(() => {});
  }

  function checkPage(value: unknown, pageNumber: number, runId: number): SyncPage<T> {
    const page = value as Partial<SyncPage<T>> | null;
    const bad = (why: string) =>
      new SyncError('syncTable.run', 'invalid_page', `page ${pageNumber} of run ${runId} ${why}`, { runId });
    if (page === null || typeof page !== 'object' || !Array.isArray(page.records)) {
      throw bad('is not { records: [...], next? }');
    }
    if (page.next !== undefined && page.next !== null && typeof page.next !== 'string') {
      throw bad(`has a next of type ${typeof page.next}; checkpoints are strings or null`);
    }
    return page as SyncPage<T>;
  }

  return {
    source,
    entity,
    tenant,
    schema: names.schema,
    db,
    tableId: () => tableId('syncTable.tableId'),

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
      await tableId('syncTable.run');
      const opened = await openRun(ro, resumable);
      let run = opened.run;
      const start: SourceStart = {
        mode: ro.mode,
        cursor: run.cursor,
        since: run.since,
        lastCursor: run.fromCursor,
        signal: ro.signal,
      };
      const abortError = () =>
        new SyncError('syncTable.run', 'aborted', `run ${run.id} was aborted after ${run.pages} pages`, {
          runId: run.id,
          cause: ro.signal?.reason,
        });
      let iterator: AsyncIterator<SyncPage<T>> | undefined;
      try {
        if (ro.signal?.aborted) throw abortError();
        const iterable = resumable ? (src as (s: SourceStart) => AsyncIterable<SyncPage<T>>)(start) : src;
        if (!isAsyncIterable(iterable)) {
          throw new SyncError('syncTable.run', 'invalid_page', 'the source function did not return an async iterable', {
            runId: run.id,
          });
        }
        iterator = iterable[Symbol.asyncIterator]();
        const it = iterator;
        const pull = () => {
          const p = it.next();
          p.catch(() => {}); // read below; a prefetch abandoned by an error must not go unhandled
          return p;
        };
        // Pages are buffered up to batchSize records and stored together with
        // the checkpoint after the last of them; whatever was fetched is stored
        // before a failure is reported, so a resumed run refetches nothing.
        const buffer: SyncPage<T>[] = [];
        let buffered = 0;
        const probe = { lookup: true };
        // the store of the previous batch, running while the next one is hashed
        let storing: Promise<void> = Promise.resolve();
        const flush = async () => {
          if (buffer.length > 0) {
            const pages = buffer.splice(0);
            buffered = 0;
            const batch = await prepareBatch(pages, ro, probe);
            await storing;
            storing = storeBatch(run, batch, ro, probe).then((updated) => {
              run = updated;
              ro.onPage?.({ runId: run.id, pages: run.pages, counts: run.counts, cursor: run.cursor });
            });
            storing.catch(() => {}); // awaited by the next flush or the end of the run
          }
        };
        const drain = async () => {
          await flush();
          await storing;
        };
        // the next page is fetched while the previous ones are stored
        let pending = pull();
        for (;;) {
          let step: IteratorResult<SyncPage<T>>;
          try {
            step = await pending;
          } catch (error) {
            await drain();
            if (ro.signal?.aborted) throw abortError();
            throw new SyncError(
              'syncTable.run',
              'source_failed',
              `the source failed after ${run.pages} stored pages of run ${run.id}: ${errorMessage(error)}`,
              { runId: run.id, cause: error },
            );
          }
          if (step.done) break;
          if (ro.signal?.aborted) {
            await drain();
            throw abortError();
          }
          let page: SyncPage<T>;
          try {
            page = checkPage(step.value, run.pages + buffer.length + 1, run.id);
          } catch (error) {
            await drain();
            throw error;
          }
          buffer.push(page);
          buffered += page.records.length;
          pending = pull();
          if (buffered >= batchSize) await flush();
        }
        await drain();
        iterator = undefined;
      } catch (error) {
        const failure = isSyncError(error)
          ? error
          : new SyncError('syncTable.run', 'source_failed', `run ${run.id} failed: ${errorMessage(error)}`, {
              runId: run.id,
              cause: error,
            });
        if (failure.code !== 'run_conflict') await interrupt(run, failure);
        await iterator?.return?.().catch(() => {});
        throw failure;
      }
      const finished = await finishRun(run, ro);
      return { ...finished, resumed: opened.resumed };
    },

    async upsert(records) {
      if (!Array.isArray(records)) {
        throw new SyncError('syncTable.upsert', 'invalid_options', 'records must be an array');
      }
      await tableId('syncTable.upsert');
      const { items, failed } = await prepare(records, undefined);
      const probe = { lookup: true };
      const chunks = await plan('syncTable.upsert', items, probe);
      const written = chunks.every((c) => c.send.length === 0)
        ? { inserted: 0, changed: 0, failed: 0 }
        : await locked('syncTable.upsert', (tx) => writeItems(tx, chunks, null, false, probe, undefined));
      return {
        seen: items.length + failed,
        inserted: written.inserted,
        changed: written.changed,
        unchanged: items.length - written.failed - written.inserted - written.changed,
        deleted: 0,
        failed: failed + written.failed,
      };
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
      await tableId('syncTable.markDeleted');
      return locked('syncTable.markDeleted', async (tx) => {
        const res = await tx.query(
          `UPDATE ${rows} SET deleted_at = now(), synced_at = now(), run_id = NULL, change_seq = ${changeSeq}
           WHERE ${KEY} AND external_id = ANY($2::text[]) AND deleted_at IS NULL`,
          [...key, ids],
        );
        return res.rowCount;
      });
    },

    async get(externalId) {
      await tableId('syncTable.get');
      const found = await query<{
        external_id: string;
        data: T;
        hash: string;
        first_seen_at: Date;
        synced_at: Date;
        changed_at: Date;
        deleted_at: Date | null;
        run_id: string | number | null;
        change_seq: string | number;
      }>(
        'syncTable.get',
        `SELECT external_id, data, hash, first_seen_at, synced_at, changed_at, deleted_at, run_id, change_seq
         FROM ${rows} WHERE ${KEY} AND external_id = $2`,
        [...key, String(externalId)],
      );
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
      await tableId('syncTable.count');
      const found = await query<{ n: number }>(
        'syncTable.count',
        `SELECT count(*)::int AS n FROM ${rows} WHERE ${KEY}${countOptions.includeDeleted ? '' : ' AND deleted_at IS NULL'}`,
        key,
      );
      return found[0]?.n ?? 0;
    },

    async runs(listOptions = {}) {
      const limit = listOptions.limit ?? 20;
      if (!Number.isInteger(limit) || limit < 1) {
        throw new SyncError('syncTable.runs', 'invalid_options', `limit must be a positive integer, got ${limit}`);
      }
      await tableId('syncTable.runs');
      const found = await query<RunRecord>(
        'syncTable.runs',
        `SELECT ${RUN_COLUMNS} FROM ${runs} WHERE ${KEY} ORDER BY id DESC LIMIT $2`,
        [...key, limit],
      );
      return found.map(toRun);
    },
  };
}
