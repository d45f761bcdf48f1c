import { BallastError, type BallastErrorOptions, errorGuard } from '../errors';

/**
 * Why a sync or mapper operation failed.
 *
 * - `invalid_options`: an option of `syncTable`, `run`, `mapper` or a page helper is not valid.
 * - `invalid_page`: the source yielded something that is not a page (`{ records: [...], next? }`).
 * - `source_failed`: the source threw while fetching; the run stays resumable from its last checkpoint.
 * - `aborted`: the run's `signal` fired; the run stays resumable from its last checkpoint.
 * - `mass_delete`: a full run would soft-delete more rows than `maxDeleteRatio` allows; nothing was deleted.
 * - `unsafe_deletes`: a full run over offset pages with no `fetchByIds` to re-check delete candidates; nothing was fetched.
 * - `run_conflict`: another process advanced the same run or mapper position at the same time.
 * - `write_failed`: the mapper's `write` or `onDelete` threw; the batch was rolled back.
 * - `store_failed`: the database refused a statement (the cause is attached), e.g. migrations not applied.
 */
export type SyncErrorCode =
  | 'invalid_options'
  | 'invalid_page'
  | 'source_failed'
  | 'aborted'
  | 'mass_delete'
  | 'unsafe_deletes'
  | 'run_conflict'
  | 'write_failed'
  | 'store_failed';

/** Context carried by a {@link SyncError}. */
export interface SyncErrorContext extends BallastErrorOptions {
  /** The sync run involved, when one is. */
  runId?: number;
  /** `mass_delete`: how many rows the run would have soft-deleted. */
  wouldDelete?: number;
  /** `mass_delete`: how many rows were live when the run started (the guard's base). */
  known?: number;
  /** `mass_delete`: the ratio that was exceeded. */
  maxDeleteRatio?: number;
}

/**
 * The error every `@ballast/core/sync` API throws on purpose.
 *
 * Branch on `code`; a `mass_delete` error also says how many rows would have
 * gone (`wouldDelete` of `known`) and the limit it hit (`maxDeleteRatio`).
 */
export class SyncError extends BallastError<SyncErrorCode> {
  override readonly name = 'SyncError';
  /** The sync run involved, when one is. */
  readonly runId: number | undefined;
  /** `mass_delete`: how many rows the run would have soft-deleted. */
  readonly wouldDelete: number | undefined;
  /** `mass_delete`: how many rows were live when the run started (the guard's base). */
  readonly known: number | undefined;
  /** `mass_delete`: the ratio that was exceeded. */
  readonly maxDeleteRatio: number | undefined;

  constructor(api: string, code: SyncErrorCode, message: string, context: SyncErrorContext = {}) {
    super(`@ballast/core] [${api}`, code, message, context.cause === undefined ? {} : { cause: context.cause });
    this.runId = context.runId;
    this.wouldDelete = context.wouldDelete;
    this.known = context.known;
    this.maxDeleteRatio = context.maxDeleteRatio;
  }
}

/** True for a {@link SyncError}, from any realm or copy of the package. */
export const isSyncError: (value: unknown) => value is SyncError = errorGuard<SyncError>('SyncError');

/** Formats zod issues as one short line: `path: message; path: message`. */
export function describeIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): string {
  return issues.map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(root)'}: ${i.message}`).join('; ');
}
