import { BallastError, type BallastErrorOptions, errorGuard } from '../errors';

/**
 * Why a bulk job stopped (the job as a whole; one record's failure is a
 * {@link BulkItemFailure} in the result, never an error):
 *
 * - `invalid_options`: an option of `bulkUpsert` or a checkpoint store is not valid.
 * - `target_failed`: the target threw an error that concerns the whole job (bad
 *   credentials, a ban, an outage). The checkpoint keeps what was done; run the
 *   same job again to resume.
 * - `budget_short`: `whenBudgetShort: 'refuse'` and the plan does not fit the
 *   budget left today; nothing was sent.
 * - `aborted`: the job's `signal` fired; the checkpoint keeps what was done.
 * - `store_failed`: the checkpoint store refused a write or a read (the cause is
 *   attached); nothing more was sent after it.
 */
export type BulkErrorCode = 'invalid_options' | 'target_failed' | 'budget_short' | 'aborted' | 'store_failed';

/** Context carried by a {@link BulkError}. */
export interface BulkErrorContext extends BallastErrorOptions {
  /** The job involved. */
  job?: string;
  /** Records done (in this run and earlier ones) when the job stopped. */
  done?: number;
}

/** The error `@ballast/core/bulk` throws when a job stops as a whole. */
export class BulkError extends BallastError<BulkErrorCode> {
  override readonly name = 'BulkError';
  /** The job involved. */
  readonly job: string | undefined;
  /** Records done (in this run and earlier ones) when the job stopped. */
  readonly done: number | undefined;

  constructor(api: string, code: BulkErrorCode, message: string, context: BulkErrorContext = {}) {
    super(`@ballast/core] [${api}`, code, message, context.cause === undefined ? {} : { cause: context.cause });
    this.job = context.job;
    this.done = context.done;
  }
}

/** True for a {@link BulkError}, from any realm or copy of the package. */
export const isBulkError: (value: unknown) => value is BulkError = errorGuard<BulkError>('BulkError');
