import { z } from 'zod';
import { describeIssues, SyncError } from './errors';

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
   * A completed full run refuses to soft-delete more than this share of the
   * table's live rows, unless run with `force`.
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
}

/** Options of `SyncTable.run`. */
export interface RunOptions<T = unknown> {
  /**
   * `full` reads everything and, when the source is exhausted, soft-deletes
   * the rows it did not see; `incremental` starts from the previous completed
   * run's last cursor and start time (`since`) and never deletes.
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

const identifier = z.string().min(1).max(200);

const tableSchema = z.object({
  source: identifier,
  entity: identifier,
  tenant: identifier.default('default'),
  schema: z.string().default('ballast'),
  volatileFields: z.array(z.string().min(1)).default([]),
  idOf: z.custom<IdOf<unknown>>((v) => typeof v === 'function', 'must be a function').optional(),
  maxDeleteRatio: z.number().min(0).max(1).default(0.2),
  batchSize: z.number().int().min(1).max(10_000).default(1000),
});

/** {@link SyncTableOptions} with defaults applied. */
export type NormalizedTableOptions = z.output<typeof tableSchema>;

const runSchema = z.object({
  mode: z.enum(['full', 'incremental']),
  resume: z.boolean().default(true),
  force: z.boolean().default(false),
  maxDeleteRatio: z.number().min(0).max(1).optional(),
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, 'must be an AbortSignal').optional(),
  onPage: z.custom<(p: SyncProgress) => void>((v) => typeof v === 'function', 'must be a function').optional(),
  onInvalidRecord: z
    .custom<(record: unknown, reason: string) => void>((v) => typeof v === 'function', 'must be a function')
    .optional(),
});

/** {@link RunOptions} with defaults applied. */
export type NormalizedRunOptions = z.output<typeof runSchema>;

function parse<S extends z.ZodType>(schema: S, api: string, what: string, input: unknown): z.output<S> {
  if (input === null || typeof input !== 'object') {
    throw new SyncError(
      api,
      'invalid_options',
      `${what} must be an object, got ${input === null ? 'null' : typeof input}`,
    );
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new SyncError(api, 'invalid_options', `invalid ${what}: ${describeIssues(result.error.issues)}`, {
      cause: result.error,
    });
  }
  return result.data;
}

/** Validates {@link SyncTableOptions} and applies the defaults; returns a new object. */
export function normalizeTableOptions(options: unknown): NormalizedTableOptions {
  return parse(tableSchema, 'syncTable', 'options', options);
}

/** Validates {@link RunOptions} and applies the defaults; returns a new object. */
export function normalizeRunOptions(options: unknown): NormalizedRunOptions {
  return parse(runSchema, 'syncTable.run', 'run options', options);
}
