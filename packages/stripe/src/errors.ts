import { BallastError, errorGuard, isBallastError } from '@ballast/core/errors';

/**
 * Why a Stripe API call failed, one value per way to react:
 * - `card_error`: the card was declined or is invalid (402, Stripe `type: card_error`); show it to the customer.
 * - `invalid_request`: bad parameters or a missing object (400/404); a bug on our side, do not retry.
 * - `authentication`: the API key is missing, invalid or revoked (401).
 * - `permission`: the key may not do this (403).
 * - `idempotency`: the Idempotency-Key was reused with other parameters, or collided with a request in flight.
 * - `rate_limited`: Stripe's rate limiter or a lock timeout answered 429.
 * - `api_error`: Stripe failed on its side (5xx, or `type: api_error`).
 * - `connection`: no answer at all (a network error, or an attempt that timed out).
 * - `invalid_response`: an answer that is not Stripe's JSON.
 * - `circuit_open`: Ballast's circuit breaker for Stripe is open, so nothing was sent; `waitMs` says when it lets a probe through.
 * - `limiter_refused`: Ballast's rate limiter refused the call (queue full, wait too long, closed, store down) before anything was sent.
 *
 * A call whose signal aborts rejects with the signal's reason, as `fetch` does, not with a `StripeError`.
 */
export type StripeApiErrorCode =
  | 'card_error'
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'idempotency'
  | 'rate_limited'
  | 'api_error'
  | 'connection'
  | 'invalid_response'
  | 'circuit_open'
  | 'limiter_refused';

/** Stripe's error object, as found under `error` in an error response. */
export interface StripeErrorBody {
  /** `api_error`, `card_error`, `idempotency_error` or `invalid_request_error`. */
  type?: string;
  /** A short machine code such as `resource_missing`, `rate_limit`, `lock_timeout`. */
  code?: string;
  /** A human-readable message from Stripe. */
  message?: string;
  /** The parameter the error relates to, e.g. `limit` or `items[0][price]`. */
  param?: string;
  /** For card declines, the issuer's reason. */
  decline_code?: string;
  /** A link to Stripe's documentation of `code`. */
  doc_url?: string;
  /** A link to the request in the Dashboard's logs. */
  request_log_url?: string;
  [field: string]: unknown;
}

/** Context carried by every {@link StripeError}. */
export interface StripeErrorContext {
  /** HTTP status, or undefined when no response arrived. */
  status?: number | undefined;
  /** The `Request-Id` response header, to quote to Stripe support. */
  requestId?: string | undefined;
  /** Stripe's error object, when the response carried one. */
  body?: StripeErrorBody | undefined;
  /** The value of `Stripe-Should-Retry`, when Stripe sent it. */
  shouldRetry?: boolean | undefined;
  /** The underlying error (a network failure, a JSON parse error, a breaker or limiter refusal). */
  cause?: unknown;
  /** For `circuit_open` and `limiter_refused`: how long the refusing layer said to wait, in milliseconds, when it said. */
  waitMs?: number | undefined;
}

/**
 * Base of every error returned by a Stripe API call: `code` says how to react;
 * Stripe's own `type`, `code` (as `stripeCode`), `param` and the request id
 * are kept as fields.
 */
export class StripeError extends BallastError<StripeApiErrorCode> {
  override readonly name: string = 'StripeError';
  /** HTTP status, or undefined when no response arrived. */
  readonly status: number | undefined;
  /** The `Request-Id` header of the failed response. */
  readonly requestId: string | undefined;
  /** Stripe's error `type` (`invalid_request_error`, `card_error`, ...). */
  readonly type: string | undefined;
  /** Stripe's error `code` (`resource_missing`, `rate_limit`, `lock_timeout`, ...). */
  readonly stripeCode: string | undefined;
  /** The parameter the error relates to. */
  readonly param: string | undefined;
  /** For card declines, the issuer's reason. */
  readonly declineCode: string | undefined;
  /** A link to Stripe's documentation of the error code. */
  readonly docUrl: string | undefined;
  /** What Stripe's `Stripe-Should-Retry` header said, if it was sent. */
  readonly shouldRetry: boolean | undefined;
  /** Stripe's whole error object. */
  readonly body: StripeErrorBody | undefined;
  /** For `circuit_open` and `limiter_refused`: the wait the refusing layer named, in milliseconds. */
  readonly waitMs: number | undefined;

  constructor(code: StripeApiErrorCode, message: string, context: StripeErrorContext = {}) {
    super('@ballast/stripe] [stripeClient', code, message, { cause: context.cause });
    this.status = context.status;
    this.requestId = context.requestId;
    this.body = context.body;
    this.type = context.body?.type;
    this.stripeCode = context.body?.code;
    this.param = context.body?.param;
    this.declineCode = context.body?.decline_code;
    this.docUrl = context.body?.doc_url;
    this.shouldRetry = context.shouldRetry;
    this.waitMs = context.waitMs;
  }
}

/** A declined or invalid card (Stripe `type: card_error`, usually 402). */
export class StripeCardError extends StripeError {
  override readonly name = 'StripeCardError';
}
/** Bad parameters or a missing object (400, 404). */
export class StripeInvalidRequestError extends StripeError {
  override readonly name = 'StripeInvalidRequestError';
}
/** The API key is missing, invalid or revoked (401). */
export class StripeAuthenticationError extends StripeError {
  override readonly name = 'StripeAuthenticationError';
}
/** The API key lacks the permission for this call (403). */
export class StripePermissionError extends StripeError {
  override readonly name = 'StripePermissionError';
}
/** An Idempotency-Key reused with other parameters, or a concurrent request with the same key. */
export class StripeIdempotencyError extends StripeError {
  override readonly name = 'StripeIdempotencyError';
}
/** Stripe's rate limiter (or a lock timeout) answered 429. */
export class StripeRateLimitError extends StripeError {
  override readonly name = 'StripeRateLimitError';
}
/** Stripe failed on its side (5xx or `type: api_error`). */
export class StripeAPIError extends StripeError {
  override readonly name = 'StripeAPIError';
}
/** No usable answer: a network failure, a timeout, or a body that is not Stripe's JSON. */
export class StripeConnectionError extends StripeError {
  override readonly name = 'StripeConnectionError';
}
/**
 * Ballast's circuit breaker for Stripe is open: the request was not sent.
 * Not a connection error: retrying at once is refused again; wait `waitMs`.
 */
export class StripeCircuitOpenError extends StripeError {
  override readonly name = 'StripeCircuitOpenError';
}
/**
 * Ballast's rate limiter refused the request before it was sent (its queue is
 * full, the wait would be too long, it was closed, or its Redis store failed;
 * the limiter's `RateLimitError` is the `cause`). Not a connection error.
 */
export class StripeLimiterError extends StripeError {
  override readonly name = 'StripeLimiterError';
}

const API_ERROR_NAMES: ReadonlySet<string> = new Set([
  'StripeError',
  'StripeCardError',
  'StripeInvalidRequestError',
  'StripeAuthenticationError',
  'StripePermissionError',
  'StripeIdempotencyError',
  'StripeRateLimitError',
  'StripeAPIError',
  'StripeConnectionError',
  'StripeCircuitOpenError',
  'StripeLimiterError',
]);

/** True for any {@link StripeError} (any subclass), across realms. */
export function isStripeError(value: unknown): value is StripeError {
  return isBallastError(value) && API_ERROR_NAMES.has(value.name);
}

function readBody(json: unknown): StripeErrorBody | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const error = (json as { error?: unknown }).error;
  return typeof error === 'object' && error !== null ? (error as StripeErrorBody) : undefined;
}

/**
 * Builds the typed error for a Stripe error response from its status, its
 * parsed JSON body and its headers (`Request-Id`, `Stripe-Should-Retry`).
 */
export function stripeErrorFromResponse(status: number, json: unknown, headers: Headers): StripeError {
  const body = readBody(json);
  const requestId = headers.get('request-id') ?? undefined;
  const should = headers.get('stripe-should-retry');
  const context: StripeErrorContext = {
    status,
    requestId,
    body,
    shouldRetry: should === 'true' ? true : should === 'false' ? false : undefined,
  };
  const detail = body?.message ?? `HTTP ${status} without a Stripe error body`;
  const where = [body?.code && `code ${body.code}`, body?.param && `param ${body.param}`, requestId]
    .filter(Boolean)
    .join(', ');
  const message = `Stripe answered ${status}: ${detail}${where ? ` (${where})` : ''}`;
  const type = body?.type;

  if (type === 'idempotency_error') return new StripeIdempotencyError('idempotency', message, context);
  if (status === 429 || body?.code === 'rate_limit' || body?.code === 'lock_timeout')
    return new StripeRateLimitError('rate_limited', message, context);
  if (type === 'card_error') return new StripeCardError('card_error', message, context);
  if (status === 401) return new StripeAuthenticationError('authentication', message, context);
  if (status === 403) return new StripePermissionError('permission', message, context);
  if (status >= 500 || type === 'api_error') return new StripeAPIError('api_error', message, context);
  if (status === 409) return new StripeIdempotencyError('idempotency', message, context);
  if (!body) return new StripeConnectionError('invalid_response', message, context);
  return new StripeInvalidRequestError('invalid_request', message, context);
}

/**
 * Invalid input to a `@ballast/stripe` API: options that fail validation,
 * parameters that cannot be form-encoded, or an event that is not a Stripe
 * event. Never retried.
 */
export type StripeUsageErrorCode = 'invalid_options' | 'invalid_params' | 'invalid_event' | 'thin_event';

/** Bad input to a `@ballast/stripe` API (options, params, events): see {@link StripeUsageErrorCode}. */
export class StripeUsageError extends BallastError<StripeUsageErrorCode> {
  override readonly name = 'StripeUsageError';
  constructor(api: string, code: StripeUsageErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(`@ballast/stripe] [${api}`, code, message, options);
  }
}

/** True for a {@link StripeUsageError}, across realms. */
export const isStripeUsageError = errorGuard<StripeUsageError>('StripeUsageError');
