import { BallastError, errorGuard, isBallastError } from '../errors';

/**
 * Every reason `@ballast/core/idempotency` throws on purpose.
 *
 * - `invalid_options`: an option passed to `idempotent()` or `versionGuard()` is missing or malformed.
 * - `invalid_key`: a key (or a version guard's object id) is not a non-empty string of at most 1024
 *   characters, or the `key` function threw.
 * - `invalid_fingerprint`: the `fingerprint` function threw or did not return a string.
 * - `invalid_version`: a version given to a version guard is not a safe integer.
 * - `not_serializable`: the wrapped function returned a value that JSON cannot store faithfully.
 * - `in_progress`: another call holds the key and its lease has not expired.
 * - `wait_timeout`: with `wait`, the holder did not finish within the wait budget.
 * - `fingerprint_mismatch`: the key was used before with a different fingerprint.
 * - `lease_lost`: the call finished after its lease expired and another call took the key over.
 * - `cached_error`: replay of a failure stored with `cacheErrors`.
 */
export type IdempotencyErrorCode =
  | 'invalid_options'
  | 'invalid_key'
  | 'invalid_fingerprint'
  | 'invalid_version'
  | 'not_serializable'
  | 'in_progress'
  | 'wait_timeout'
  | 'fingerprint_mismatch'
  | 'lease_lost'
  | 'cached_error';

/** Context accepted by idempotency errors. */
export interface IdempotencyErrorOptions {
  /** The idempotency key concerned, when there is one. */
  key?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** An error thrown by `idempotent()`, a version guard or an idempotency store; branch on `code`. */
export class IdempotencyError<Code extends IdempotencyErrorCode = IdempotencyErrorCode> extends BallastError<Code> {
  override readonly name: string = 'IdempotencyError';
  /** The idempotency key concerned, when there is one. */
  readonly key: string | undefined;

  constructor(api: string, code: Code, message: string, options: IdempotencyErrorOptions = {}) {
    super(`@ballast/core] [${api}`, code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.key = options.key;
  }
}

/** Another call holds the key (`in_progress`), or the holder did not finish within the wait budget (`wait_timeout`). */
export class IdempotencyInProgressError extends IdempotencyError<'in_progress' | 'wait_timeout'> {
  override readonly name = 'IdempotencyInProgressError';
  /** When the holder's lease expires (ms since the epoch); after that the key can be taken over. */
  readonly leaseExpiresAt: number;

  constructor(code: 'in_progress' | 'wait_timeout', key: string, leaseExpiresAt: number) {
    super(
      'idempotent',
      code,
      code === 'in_progress'
        ? `key ${JSON.stringify(key)} is being processed by another call (lease until ${new Date(leaseExpiresAt).toISOString()})`
        : `gave up waiting for the call holding key ${JSON.stringify(key)} to finish`,
      { key },
    );
    this.leaseExpiresAt = leaseExpiresAt;
  }
}

/** The key was used before with a different fingerprint: the same key for a different request. */
export class IdempotencyConflictError extends IdempotencyError<'fingerprint_mismatch'> {
  override readonly name = 'IdempotencyConflictError';

  constructor(key: string) {
    super(
      'idempotent',
      'fingerprint_mismatch',
      `key ${JSON.stringify(key)} was already used with a different fingerprint (same key, different request)`,
      { key },
    );
  }
}

/** What a failed first call threw, as stored with `cacheErrors`: plain JSON data. */
export interface SerializedError {
  /** The original error's `name` (e.g. `TypeError`), or `Error` for thrown non-errors. */
  name: string;
  /** The original error's message (or the thrown value, stringified). */
  message: string;
  /** The original error's `code`, when it had a string or finite number one. */
  code?: string | number;
}

/** Replay of a failure stored with `cacheErrors`: `original` describes what the first call threw. */
export class IdempotencyCachedError extends IdempotencyError<'cached_error'> {
  override readonly name = 'IdempotencyCachedError';
  /** What the first call threw, as stored. */
  readonly original: SerializedError;

  constructor(key: string, original: SerializedError) {
    super(
      'idempotent',
      'cached_error',
      `key ${JSON.stringify(key)} failed before and its error was cached: ${original.name}: ${original.message}`,
      { key },
    );
    this.original = original;
  }
}

const NAMES = new Set([
  'IdempotencyError',
  'IdempotencyInProgressError',
  'IdempotencyConflictError',
  'IdempotencyCachedError',
]);

/** True for any idempotency error (every subclass), from any realm or copy of the package. */
export function isIdempotencyError(value: unknown): value is IdempotencyError {
  return isBallastError(value) && NAMES.has(value.name);
}

/** True for an {@link IdempotencyInProgressError}, from any realm. */
export const isIdempotencyInProgressError = errorGuard<IdempotencyInProgressError>('IdempotencyInProgressError');
/** True for an {@link IdempotencyConflictError}, from any realm. */
export const isIdempotencyConflictError = errorGuard<IdempotencyConflictError>('IdempotencyConflictError');
/** True for an {@link IdempotencyCachedError}, from any realm. */
export const isIdempotencyCachedError = errorGuard<IdempotencyCachedError>('IdempotencyCachedError');
