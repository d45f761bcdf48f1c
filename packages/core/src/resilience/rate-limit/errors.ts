import { BallastError, type BallastErrorOptions, errorGuard } from '../../errors';

/**
 * Why a rate limiter refused or gave up on a call.
 *
 * - `invalid_options`: the limiter's options are not valid (thrown by the factory).
 * - `invalid_argument`: a call's own options are not valid (a weight above the key's limit, a non-string key, ...).
 * - `queue_full`: the key's queue already holds `maxQueued` calls.
 * - `aborted`: the call's signal aborted while it waited; it never ran and held no slot.
 * - `wait_too_long`: the budget would make the call wait longer than its `maxWait` (the call's, or the Redis limiter's).
 * - `closed`: the limiter was closed while the call waited.
 * - `store_failed`: the shared store (Redis) could not be reached or answered nonsense; the cause is attached.
 * - `invalid_result`: a `batch` chunk function returned something other than one result per item of its chunk.
 */
export type RateLimitErrorCode =
  | 'invalid_options'
  | 'invalid_argument'
  | 'queue_full'
  | 'aborted'
  | 'wait_too_long'
  | 'closed'
  | 'store_failed'
  | 'invalid_result';

/** Context carried by a {@link RateLimitError}. */
export interface RateLimitErrorContext extends BallastErrorOptions {
  /** The limiter key the call drew from. */
  key?: string;
  /** For `wait_too_long`: the wait the budget asked for, in milliseconds. */
  waitMs?: number;
}

/** The error every rate-limiting API throws or rejects with on purpose. */
export class RateLimitError extends BallastError<RateLimitErrorCode> {
  override readonly name = 'RateLimitError';
  /** The limiter key the call drew from, when there is one. */
  readonly key: string | undefined;
  /** For `wait_too_long`: the wait the budget asked for, in milliseconds. */
  readonly waitMs: number | undefined;

  constructor(api: string, code: RateLimitErrorCode, message: string, context: RateLimitErrorContext = {}) {
    super(`@ballast/core] [${api}`, code, message, context.cause === undefined ? {} : { cause: context.cause });
    this.key = context.key;
    this.waitMs = context.waitMs;
  }
}

/** True for a {@link RateLimitError}, from any realm or copy of the package. */
export const isRateLimitError: (value: unknown) => value is RateLimitError =
  errorGuard<RateLimitError>('RateLimitError');

/** The error of a call whose signal aborted before it could start. @internal */
export function abortedError(api: string, key: string, signal: AbortSignal): RateLimitError {
  return new RateLimitError(api, 'aborted', `the call was aborted while it waited for key "${key}"`, {
    key,
    cause: signal.reason,
  });
}

/**
 * The error of a call that cannot start within its `maxWait`: `waitMs` is the
 * wait the budget asked for, when known, else the time it waited.
 * @internal
 */
export function waitTooLongError(api: string, key: string, waitMs: number, maxWait: number): RateLimitError {
  const message =
    waitMs > maxWait
      ? `a call of key "${key}" would wait ${Math.round(waitMs)} ms, more than its maxWait (${maxWait} ms)`
      : `a call of key "${key}" could not start within its maxWait (${maxWait} ms)`;
  return new RateLimitError(api, 'wait_too_long', message, { key, waitMs });
}

/** The error of a call whose weight is above its key's limit: it could never run. @internal */
export function overweightError(api: string, key: string, weight: number, limit: number): RateLimitError {
  return new RateLimitError(
    api,
    'invalid_argument',
    `weight ${weight} exceeds the limit of key "${key}" (${limit}), so the call could never run`,
    { key },
  );
}
