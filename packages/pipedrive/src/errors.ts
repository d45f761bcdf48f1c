import { BallastError, errorGuard, isBallastError } from '@ballast/core/errors';

/**
 * What went wrong with a Pipedrive API call; branch on it (`error.kind`,
 * also `error.code`):
 *
 * | kind | when |
 * | --- | --- |
 * | `unauthorized` | 401: the token is invalid or revoked (after one OAuth refresh and replay) |
 * | `payment_required` | 402: the company account is not open |
 * | `forbidden` | 403 with Pipedrive's JSON: no permission, or a plan limit (`pipedriveCode`) |
 * | `banned` | 403 with Cloudflare's HTML page: the token is banned for sending after a 429; no call is sent on it until `retryAt` |
 * | `not_found` | 404 or 410 |
 * | `validation` | 400 or 422: Pipedrive refused the input |
 * | `request` | another 4xx (405, 415, ...) |
 * | `rate_limited` | 429 of the burst window, after the retries allowed |
 * | `daily_budget_spent` | the company's daily token budget is spent (429, or known before sending); `retryAt` is the reset |
 * | `malformed_response` | a 2xx whose body is not Pipedrive's envelope, or a page that cannot be followed |
 * | `server` | 5xx |
 * | `connection` | no answer: network failure or timeout |
 * | `circuit_open` | Ballast's circuit breaker refused the call (nothing sent) |
 * | `limiter_refused` | Ballast's rate limiter refused the call (queue full, wait too long; nothing sent) |
 * | `ambiguous_match` | `findBy`/`upsertBy` found more than one record with the unique value |
 */
export type PipedriveErrorKind =
  | 'unauthorized'
  | 'payment_required'
  | 'forbidden'
  | 'banned'
  | 'not_found'
  | 'validation'
  | 'request'
  | 'rate_limited'
  | 'daily_budget_spent'
  | 'malformed_response'
  | 'server'
  | 'connection'
  | 'circuit_open'
  | 'limiter_refused'
  | 'ambiguous_match';

/** Context of a {@link PipedriveError}. */
export interface PipedriveErrorContext {
  /** HTTP status, when a response arrived. */
  status?: number | undefined;
  /** Pipedrive's `error` message. */
  pipedriveError?: string | undefined;
  /** Pipedrive's `error_info` hint. */
  errorInfo?: string | undefined;
  /** Pipedrive's `code` (e.g. `feature_capping_deals_limit`). */
  pipedriveCode?: string | undefined;
  /** `x-request-id` (or Cloudflare's `cf-ray` on a ban page). */
  requestId?: string | undefined;
  /** For `banned`, `daily_budget_spent`, `rate_limited`: epoch ms when calls may resume, when known. */
  retryAt?: number | undefined;
  /** The `METHOD path` of the call. */
  operation?: string | undefined;
  cause?: unknown;
}

/**
 * The error of every `pipedriveClient` call. `kind` (= `code`) says how to
 * react; Pipedrive's own `error`, `error_info` and `code` are kept as
 * `pipedriveError`, `errorInfo` and `pipedriveCode`. Never carries the token.
 */
export class PipedriveError extends BallastError<PipedriveErrorKind> {
  override readonly name: string = 'PipedriveError';
  readonly status: number | undefined;
  readonly pipedriveError: string | undefined;
  readonly errorInfo: string | undefined;
  readonly pipedriveCode: string | undefined;
  readonly requestId: string | undefined;
  readonly retryAt: number | undefined;
  readonly operation: string | undefined;

  constructor(kind: PipedriveErrorKind, message: string, context: PipedriveErrorContext = {}) {
    super('@ballast/pipedrive] [pipedriveClient', kind, message, { cause: context.cause });
    this.status = context.status;
    this.pipedriveError = context.pipedriveError;
    this.errorInfo = context.errorInfo;
    this.pipedriveCode = context.pipedriveCode;
    this.requestId = context.requestId;
    this.retryAt = context.retryAt;
    this.operation = context.operation;
  }

  /** The same as `code`: what went wrong. */
  get kind(): PipedriveErrorKind {
    return this.code;
  }
}

/** True for a {@link PipedriveError}, across realms. */
export const isPipedriveError = errorGuard<PipedriveError>('PipedriveError');

/** Bad input to a `@ballast/pipedrive` API. */
export type PipedriveUsageErrorCode = 'invalid_options' | 'invalid_params';

/** Options or parameters that cannot work; never retried, the token never echoed. */
export class PipedriveUsageError extends BallastError<PipedriveUsageErrorCode> {
  override readonly name = 'PipedriveUsageError';
  constructor(api: string, code: PipedriveUsageErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(`@ballast/pipedrive] [${api}`, code, message, options);
  }
}

/** True for a {@link PipedriveUsageError}, across realms. */
export const isPipedriveUsageError = errorGuard<PipedriveUsageError>('PipedriveUsageError');

/** True when a 403 body is Cloudflare's HTML block page rather than Pipedrive's JSON. */
export function isBanPage(status: number, contentType: string | null, text: string): boolean {
  if (status !== 403) return false;
  const head = text.trimStart().slice(0, 200).toLowerCase();
  if (head.startsWith('{')) return false;
  return (contentType ?? '').toLowerCase().includes('text/html') || head.startsWith('<');
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The request id of a response: `x-request-id`, else Cloudflare's `cf-ray`. */
export function requestIdOf(headers: Headers): string | undefined {
  return headers.get('x-request-id') ?? headers.get('cf-ray') ?? undefined;
}

/**
 * The typed error for a Pipedrive error response, from its status, headers
 * and body text (parsed here). A 403 whose body is an HTML page is `banned`.
 */
export function pipedriveErrorFromResponse(
  status: number,
  headers: Headers,
  text: string,
  operation?: string,
  extra: { retryAt?: number; dailySpent?: boolean } = {},
): PipedriveError {
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  const body = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : undefined;
  const context: PipedriveErrorContext = {
    status,
    pipedriveError: str(body?.error) ?? str(body?.message),
    errorInfo: str(body?.error_info),
    pipedriveCode: str(body?.code) ?? (typeof body?.code === 'number' ? String(body.code) : undefined),
    requestId: requestIdOf(headers),
    retryAt: extra.retryAt,
    operation,
  };
  const where = operation ? `${operation} ` : '';
  const detail = context.pipedriveError ? `: ${context.pipedriveError}` : '';
  const message = `${where}answered ${status}${detail}${context.requestId ? ` (request ${context.requestId})` : ''}`;
  if (isBanPage(status, headers.get('content-type'), text))
    return new PipedriveError(
      'banned',
      `${where}answered 403 with Cloudflare's block page: the token is banned`,
      context,
    );
  if (status === 429)
    return new PipedriveError(extra.dailySpent ? 'daily_budget_spent' : 'rate_limited', message, context);
  if (status === 401) return new PipedriveError('unauthorized', message, context);
  if (status === 402) return new PipedriveError('payment_required', message, context);
  if (status === 403) return new PipedriveError('forbidden', message, context);
  if (status === 404 || status === 410) return new PipedriveError('not_found', message, context);
  if (status === 400 || status === 422) return new PipedriveError('validation', message, context);
  if (status >= 500) return new PipedriveError('server', message, context);
  if (status >= 400) return new PipedriveError('request', message, context);
  return new PipedriveError('malformed_response', message, context);
}

/** @internal guard for any Ballast error that is not ours */
export function isForeignBallastError(value: unknown): boolean {
  return isBallastError(value) && !isPipedriveError(value);
}
