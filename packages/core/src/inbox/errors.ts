import { BallastError, type BallastErrorOptions, errorGuard } from '../errors';

/**
 * Why an inbox operation failed.
 *
 * - `store_unavailable`: the inbox store could not be reached or did not answer in time
 *   (the webhook endpoint answers 503 so the provider retries).
 * - `overloaded`: too many events already wait to be written (`groupCommit.maxPending` or
 *   `maxPendingBytes`); nothing was written, and the endpoint answers 503 with `Retry-After`.
 * - `invalid_event`: an event to store lacks a usable source, id or type, its payload is not a
 *   JSON object or cannot be serialized, or the store rejected its data (SQLSTATE class 22, 23, 54).
 * - `invalid_options`: an option is out of range or of the wrong type.
 * - `invalid_filter`: a list, count or replay filter is malformed (bad status, limit or cursor).
 * - `stopped`: the inbox or worker was stopped while the call was waiting.
 * - `handler_timeout`: a handler did not finish within the worker's `handlerTimeoutMs`
 *   (the attempt counts as failed).
 * - `permanent_failure`: a handler (or a payload schema) declared the event unprocessable
 *   (`permanentFailure(reason)`): it is dead-lettered at once, without retries.
 * - `unhandled`: no handler matches the event's type and the worker's `unhandled` policy is `'dead'`.
 */
export type InboxErrorCode =
  | 'store_unavailable'
  | 'overloaded'
  | 'invalid_event'
  | 'invalid_options'
  | 'invalid_filter'
  | 'stopped'
  | 'handler_timeout'
  | 'permanent_failure'
  | 'unhandled';

/** An error thrown by `@ballast/core/inbox`. */
export class InboxError extends BallastError<InboxErrorCode> {
  override readonly name = 'InboxError';

  constructor(api: string, code: InboxErrorCode, message: string, options: BallastErrorOptions = {}) {
    super(`@ballast/core] [${api}`, code, message, options);
  }
}

/** True for an {@link InboxError}, from any realm or copy of the package. */
export const isInboxError: (value: unknown) => value is InboxError = errorGuard<InboxError>('InboxError');
