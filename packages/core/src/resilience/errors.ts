import { BallastError, errorGuard } from '../errors';

/**
 * Why a resilience layer refused or gave up on a call.
 *
 * - `circuit_open`: the breaker for this key is open (or its one probe is in flight); `waitMs` says when it lets a probe through.
 * - `retry_after_too_long`: the server asked to wait longer than `maxRetryAfterMs`; `waitMs` is what it asked.
 * - `deadline_exceeded`: the overall deadline passed, or the next wait would pass it; `waitMs` is that wait, when there was one.
 * - `timeout`: one attempt took longer than the per-attempt timeout.
 * - `retry_budget_exhausted`: the key's retry budget is empty, so a retryable failure is not retried.
 * - `invalid_options`: an option is out of range or of the wrong type (thrown when the layer is built).
 * - `invalid_request`: the fetch input is not a URL string, a `URL` or a `Request`.
 */
export type ResilienceErrorCode =
  | 'circuit_open'
  | 'retry_after_too_long'
  | 'deadline_exceeded'
  | 'timeout'
  | 'retry_budget_exhausted'
  | 'invalid_options'
  | 'invalid_request';

/** Context a {@link ResilienceError} may carry. */
export interface ResilienceErrorDetails {
  /** The group (host or key-function result) the decision applied to. */
  key?: string;
  /** The wait involved, in milliseconds: asked by the server, left on the breaker, or computed. */
  waitMs?: number;
  /** How many attempts were made before giving up. */
  attempts?: number;
  /** The last response, when the failure was an HTTP answer (its body is unread). */
  response?: Response;
  /** The underlying error. */
  cause?: unknown;
}

/** The error every resilience layer throws on purpose; branch on `code`. */
export class ResilienceError extends BallastError<ResilienceErrorCode> {
  override readonly name = 'ResilienceError';
  /** The group the decision applied to, when known. */
  readonly key: string | undefined;
  /** The wait involved, in milliseconds, when there is one. */
  readonly waitMs: number | undefined;
  /** Attempts made before giving up, when known. */
  readonly attempts: number | undefined;
  /** The last response, when the failure was an HTTP answer. */
  readonly response: Response | undefined;

  /**
   * @param api the API that threw, e.g. `retry`, used in the message prefix
   */
  constructor(api: string, code: ResilienceErrorCode, message: string, details: ResilienceErrorDetails = {}) {
    super(`@ballast/core] [${api}`, code, message, details.cause === undefined ? {} : { cause: details.cause });
    this.key = details.key;
    this.waitMs = details.waitMs;
    this.attempts = details.attempts;
    this.response = details.response;
  }
}

/** True for a {@link ResilienceError} from any realm or copy of the package. */
export const isResilienceError: (value: unknown) => value is ResilienceError =
  errorGuard<ResilienceError>('ResilienceError');

/** Throws `invalid_options` unless `value` is a finite number within `[min, max]`. @internal */
export function checkNumber(api: string, name: string, value: number, min: number, max = Number.POSITIVE_INFINITY) {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    throw new ResilienceError(
      api,
      'invalid_options',
      `${name} must be a number in [${min}, ${max}], got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
}

/** Throws `invalid_options` unless `value` is a function (or undefined when optional). @internal */
export function checkFunction(api: string, name: string, value: unknown) {
  if (value !== undefined && typeof value !== 'function') {
    throw new ResilienceError(api, 'invalid_options', `${name} must be a function, got ${typeof value}`);
  }
}

/** Throws `invalid_options` unless `options` is a plain object (or undefined). @internal */
export function checkOptions(api: string, options: unknown) {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new ResilienceError(
      api,
      'invalid_options',
      `options must be an object, got ${options === null ? 'null' : typeof options}`,
    );
  }
}
