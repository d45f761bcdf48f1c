import { BallastError, errorGuard, isBallastError } from '@ballast/core/errors';

/**
 * Why a Google Maps call failed, one value per way to react:
 * - `unavailable`: Google could not answer: a 5xx, a timeout, no connection,
 *   `UNKNOWN_ERROR` or `UNAVAILABLE` still failing after the retries, or
 *   Ballast's circuit breaker open (nothing sent; `waitMs` says when it lets a
 *   probe through). Transient: a cache may serve what it has.
 * - `rate_limited`: over the quota (`OVER_QUERY_LIMIT`, `RESOURCE_EXHAUSTED`)
 *   after the retries, or Ballast's limiter refused the call before it was
 *   sent (queue full, wait too long). Transient.
 * - `over_daily_limit`: `OVER_DAILY_LIMIT`: a missing or invalid key, billing
 *   off, a usage cap reached. A configuration problem: never retried.
 * - `denied`: `REQUEST_DENIED`, `PERMISSION_DENIED`, `UNAUTHENTICATED`, or a
 *   key Google calls invalid. Never retried.
 * - `invalid_request`: `INVALID_REQUEST`, `INVALID_ARGUMENT`,
 *   `FAILED_PRECONDITION`, `OUT_OF_RANGE`, `MAX_*_EXCEEDED`. Never retried.
 * - `not_found`: `NOT_FOUND` (e.g. a place id Google no longer knows).
 * - `invalid_response`: an answer that is not the API's JSON, or a status this
 *   client does not know. Transient (a proxy's error page is the usual cause).
 *
 * A call whose signal aborts rejects with the signal's reason, as `fetch` does.
 */
export type GoogleMapsErrorCode =
  | 'unavailable'
  | 'rate_limited'
  | 'over_daily_limit'
  | 'denied'
  | 'invalid_request'
  | 'not_found'
  | 'invalid_response';

/** Which Google Maps API a call went to. */
export type GoogleMapsApi = 'geocoding' | 'routes' | 'routeMatrix';

/** Context carried by every {@link GoogleMapsError}. */
export interface GoogleMapsErrorContext {
  /** The API the call went to. */
  api: GoogleMapsApi;
  /**
   * Google's status: the Geocoding body `status` (`REQUEST_DENIED`, ...) or
   * the `google.rpc.Status` name of a Routes error (`RESOURCE_EXHAUSTED`, ...);
   * undefined when no answer arrived.
   */
  status?: string | undefined;
  /** HTTP status of the last answer, when one arrived. */
  httpStatus?: number | undefined;
  /** Google's `error_message` (Geocoding) or `error.message` (Routes). */
  googleMessage?: string | undefined;
  /** For `unavailable` / `rate_limited` refusals by Ballast: how long the refusing layer said to wait. */
  waitMs?: number | undefined;
  /** The underlying error (a network failure, a timeout, a breaker or limiter refusal). */
  cause?: unknown;
}

const TRANSIENT: ReadonlySet<GoogleMapsErrorCode> = new Set(['unavailable', 'rate_limited', 'invalid_response']);

/**
 * The error of a Google Maps call that got no usable answer. Branch on
 * `code`; `transient` is true when Google may answer later (a cache may serve
 * stale data instead), false for a definitive answer that must not be cached.
 * The API key never appears in the message or any field.
 */
export class GoogleMapsError extends BallastError<GoogleMapsErrorCode> {
  override readonly name: string = 'GoogleMapsError';
  /** The API the call went to. */
  readonly api: GoogleMapsApi;
  /** Google's status string, when an answer carried one. */
  readonly status: string | undefined;
  /** HTTP status of the last answer. */
  readonly httpStatus: number | undefined;
  /** Google's own message. */
  readonly googleMessage: string | undefined;
  /** For refusals by Ballast's breaker or limiter: the wait they named, in milliseconds. */
  readonly waitMs: number | undefined;
  /** True for `unavailable`, `rate_limited` and `invalid_response`: Google may answer later. */
  readonly transient: boolean;

  constructor(code: GoogleMapsErrorCode, message: string, context: GoogleMapsErrorContext) {
    super('@ballast/google-maps] [googleMapsClient', code, message, { cause: context.cause });
    this.api = context.api;
    this.status = context.status;
    this.httpStatus = context.httpStatus;
    this.googleMessage = context.googleMessage;
    this.waitMs = context.waitMs;
    this.transient = TRANSIENT.has(code);
  }
}

/** Google could not answer (5xx, timeout, unreachable, breaker open): code `unavailable`. */
export class GoogleMapsUnavailableError extends GoogleMapsError {
  override readonly name = 'GoogleMapsUnavailableError';
}
/** Over the quota, or refused by Ballast's limiter: code `rate_limited`. */
export class GoogleMapsRateLimitError extends GoogleMapsError {
  override readonly name = 'GoogleMapsRateLimitError';
}
/** A definitive refusal: `over_daily_limit`, `denied`, `invalid_request` or `not_found`. Never retried, never cached. */
export class GoogleMapsRequestError extends GoogleMapsError {
  override readonly name = 'GoogleMapsRequestError';
}
/** An answer that is not the API's JSON: code `invalid_response`. */
export class GoogleMapsResponseError extends GoogleMapsError {
  override readonly name = 'GoogleMapsResponseError';
}

const NAMES: ReadonlySet<string> = new Set([
  'GoogleMapsError',
  'GoogleMapsUnavailableError',
  'GoogleMapsRateLimitError',
  'GoogleMapsRequestError',
  'GoogleMapsResponseError',
]);

/** True for any {@link GoogleMapsError} (any subclass), across realms. */
export function isGoogleMapsError(value: unknown): value is GoogleMapsError {
  return isBallastError(value) && NAMES.has(value.name);
}

/** Builds the error of the right class for a code. @internal */
export function googleMapsError(
  code: GoogleMapsErrorCode,
  message: string,
  context: GoogleMapsErrorContext,
): GoogleMapsError {
  switch (code) {
    case 'unavailable':
      return new GoogleMapsUnavailableError(code, message, context);
    case 'rate_limited':
      return new GoogleMapsRateLimitError(code, message, context);
    case 'invalid_response':
      return new GoogleMapsResponseError(code, message, context);
    default:
      return new GoogleMapsRequestError(code, message, context);
  }
}

/** Bad input to a `@ballast/google-maps` API, refused before anything is sent. */
export type GoogleMapsUsageErrorCode = 'invalid_options' | 'invalid_params';

/** Options or parameters that cannot work; thrown (or rejected) before any request. */
export class GoogleMapsUsageError extends BallastError<GoogleMapsUsageErrorCode> {
  override readonly name = 'GoogleMapsUsageError';
  constructor(api: string, code: GoogleMapsUsageErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(`@ballast/google-maps] [${api}`, code, message, options);
  }
}

/** True for a {@link GoogleMapsUsageError}, across realms. */
export const isGoogleMapsUsageError = errorGuard<GoogleMapsUsageError>('GoogleMapsUsageError');
