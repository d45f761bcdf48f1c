import {
  arrayOf,
  boolean,
  either,
  type Field,
  type FieldValues,
  fn,
  instance,
  integer,
  number,
  oneOf,
  optional,
  readFields,
  required,
  text,
  withDefault,
} from '../internal/fields';
import { SyncError } from './errors';

/** How a record's external id is read. */
export type IdOf<T> = (record: T) => string | number;

/** Options of {@link syncTable}. */
export interface SyncTableOptions<T = unknown> {
  /** The provider, e.g. `pipedrive`. */
  source: string;
  /** The provider's entity, e.g. `persons`. */
  entity: string;
  /**
   * The tenant (or connection) the rows belong to.
   * @default 'default'
   */
  tenant?: string;
  /**
   * Schema holding Ballast's tables (as given to `migrate`).
   * @default 'ballast'
   */
  schema?: string;
  /**
   * Fields left out of the content hash, as dotted paths (`fetched_at`,
   * `meta.request_id`; a path through an array applies to every element).
   * A record whose only differences are in these fields counts as unchanged
   * and is not rewritten.
   * @default []
   */
  volatileFields?: readonly string[];
  /**
   * Reads a record's external id.
   * @default (record) => record.id
   */
  idOf?: IdOf<T>;
  /**
   * The field the provider's `updated_since` filter reads (`update_time`,
   * `updated_at`, `meta.modified`; a dotted path), or a function returning
   * it. Its largest value over the records a run stores is the run's
   * high-water mark, and the next incremental run's `since` is that mark
   * minus `lookbackMs`: the provider's own clock, not the database's.
   * Values are `Date`s, ISO 8601 strings (without an offset: UTC, as
   * Pipedrive's `2024-05-01 12:30:00`) or numbers of seconds since the epoch
   * (Unix time, Stripe's `created`); a record without a readable value does
   * not move the mark. Without a `cursorField`, `since` is when the previous
   * completed run started, minus `lookbackMs`.
   * @default undefined (no field: the previous run's start)
   */
  cursorField?: string | ((record: T) => Date | string | number | null | undefined);
  /**
   * The field holding the record's version (a dotted path such as
   * `update_time`; values read like `cursorField`'s: `Date`s, ISO 8601
   * strings, Unix seconds). When set, a record older than the stored row is
   * not written, by a run or by `upsert`: a page fetched before a webhook
   * applied a newer state, or a late webhook, never overwrites the newer
   * row (nor brings back a row soft-deleted after it). It counts as
   * `unchanged`. A record or row without a readable version is written as
   * usual; an equal version is written (the later arrival wins). The check
   * runs inside the write's transaction, under the table's lock.
   * @default undefined (every changed record is written)
   */
  versionField?: string;
  /**
   * How far before the high-water mark (or the previous run's start) an
   * incremental run's `since` goes back, in milliseconds: records the
   * provider indexed late, or stamped by a clock behind, are read again.
   * Records read again unchanged are not rewritten (0401), so a generous
   * window costs reads, not writes.
   * @default 300000 (5 minutes)
   */
  lookbackMs?: number;
  /**
   * A completed full run refuses to soft-delete more than this share of the
   * rows live when it started, unless run with `force`.
   * @default 0.2
   */
  maxDeleteRatio?: number;
  /**
   * Records per write: pages are buffered until they hold this many records,
   * then stored in one transaction with the checkpoint after the last of them
   * (one lookup and one upsert statement per `batchSize` records). Small
   * provider pages (Stripe's 100) are grouped; a larger page is split.
   * @default 1000
   */
  batchSize?: number;
  /**
   * A write of at least this many records (a first load, a large change)
   * goes by COPY into a per-connection staging table and one merge
   * statement, with the same hashes, counts, checkpoint and change feed as
   * the INSERT path. Used where the driver can COPY: PGlite, and
   * node-postgres with the optional package `pg-copy-streams` installed;
   * elsewhere (postgres.js, a driver of your own without `copyFrom`) writes
   * stay INSERTs. `false` never uses COPY.
   * @default 500
   */
  copyMinRows?: number | false;
}

/** Options of `SyncTable.run`. */
export interface RunOptions<T = unknown> {
  /**
   * `full` reads everything and, when the source is exhausted, soft-deletes
   * the rows it did not see; `incremental` starts from the previous completed
   * run's last cursor and `since` (its high-water mark, or start, minus
   * `lookbackMs`) and never deletes.
   */
  mode: 'full' | 'incremental';
  /**
   * Continue an interrupted run of the same mode from its checkpoint. With
   * `false` (or a source that is a plain iterable), an interrupted run is
   * abandoned and a new one starts.
   * @default true
   */
  resume?: boolean;
  /**
   * Full runs: soft-delete, at the end, the live rows the run did not see.
   * A source over offset pages (`offsetPages`) must then re-check the
   * candidates by id (its `fetchByIds`), or the run is refused with
   * `unsafe_deletes` before it fetches anything. `false` stores what the
   * run reads and deletes nothing.
   * @default true
   */
  detectDeletes?: boolean;
  /**
   * Full runs: soft-delete unseen rows even beyond `maxDeleteRatio`.
   * @default false
   */
  force?: boolean;
  /**
   * Overrides the table's `maxDeleteRatio` for this run.
   * @default the table's `maxDeleteRatio`
   */
  maxDeleteRatio?: number;
  /** Stops the run between pages; it stays resumable from its checkpoint. */
  signal?: AbortSignal;
  /** Called after each stored batch of pages, with the run's running counts. */
  onPage?(progress: SyncProgress): void;
  /** Called for a record that cannot be stored (no usable id, not JSON); it counts as `failed`. */
  onInvalidRecord?(record: T, reason: string): void;
}

/** Counts of one run (or one `upsert` call). */
export interface SyncCounts {
  /** Records read; an id repeated within one stored batch counts once. Always `inserted + changed + unchanged + failed`. */
  seen: number;
  /** Records new to the table. */
  inserted: number;
  /** Records whose content hash changed, or that came back after a soft delete. */
  changed: number;
  /** Records whose content hash did not change: not written. */
  unchanged: number;
  /** Rows soft-deleted by the run (full runs only). */
  deleted: number;
  /** Records that could not be stored (see `onInvalidRecord`). */
  failed: number;
}

/** Progress of a run, after each stored batch of pages. */
export interface SyncProgress {
  /** The run's id. */
  runId: number;
  /** Pages stored so far, across resumptions. */
  pages: number;
  /** Counts so far, across resumptions. */
  counts: SyncCounts;
  /** The checkpoint just saved (`null` after the last page). */
  cursor: string | null;
}

const identifier = text(1, 200);

const tableFields = {
  source: required<string>(identifier),
  entity: required<string>(identifier),
  tenant: withDefault(identifier, 'default'),
  schema: withDefault(text(), 'ballast'),
  volatileFields: withDefault<readonly string[]>(arrayOf(text(1)), []),
  idOf: optional<IdOf<unknown>>(fn),
  cursorField: optional<string | ((record: unknown) => unknown)>(either(text(1), fn)),
  versionField: optional<string>(text(1)),
  lookbackMs: withDefault(integer(0, 366 * 86_400_000), 300_000),
  maxDeleteRatio: withDefault(number(0, 1), 0.2),
  batchSize: withDefault(integer(1, 10_000), 1000),
  copyMinRows: withDefault<number | false>(either(integer(1), oneOf([false])), 500),
};

/** {@link SyncTableOptions} with defaults applied. */
export type NormalizedTableOptions = FieldValues<typeof tableFields>;

const runFields = {
  mode: required<'full' | 'incremental'>(oneOf(['full', 'incremental'])),
  resume: withDefault(boolean, true),
  detectDeletes: withDefault(boolean, true),
  force: withDefault(boolean, false),
  maxDeleteRatio: optional<number>(number(0, 1)),
  signal: optional<AbortSignal>(instance(AbortSignal, 'an AbortSignal')),
  onPage: optional<(p: SyncProgress) => void>(fn),
  onInvalidRecord: optional<(record: unknown, reason: string) => void>(fn),
};

/** {@link RunOptions} with defaults applied. */
export type NormalizedRunOptions = FieldValues<typeof runFields>;

function parse<F extends Record<string, Field<unknown>>>(
  fields: F,
  api: string,
  what: string,
  input: unknown,
): FieldValues<F> {
  if (input === null || typeof input !== 'object') {
    throw new SyncError(
      api,
      'invalid_options',
      `${what} must be an object, got ${input === null ? 'null' : typeof input}`,
    );
  }
  const result = readFields(input, fields);
  if (!result.ok) throw new SyncError(api, 'invalid_options', `invalid ${what}: ${result.problems.join('; ')}`);
  return result.value;
}

/** Validates {@link SyncTableOptions} and applies the defaults; returns a new object. */
export function normalizeTableOptions(options: unknown): NormalizedTableOptions {
  return parse(tableFields, 'syncTable', 'options', options);
}

/** Validates {@link RunOptions} and applies the defaults; returns a new object. */
export function normalizeRunOptions(options: unknown): NormalizedRunOptions {
  return parse(runFields, 'syncTable.run', 'run options', options);
}
