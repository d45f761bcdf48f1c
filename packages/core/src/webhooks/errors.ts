import { BallastError, type BallastErrorOptions, errorGuard } from '../errors';

/**
 * Why a webhook was rejected. Branch on this, never on the message text.
 *
 * Sent by the caller (answer 4xx):
 * - `missing_header`: a header the scheme needs is absent or empty.
 * - `duplicate_header`: a header the scheme needs was sent more than once.
 * - `malformed_header`: a header is present but its syntax is wrong (no timestamp, bad hex or base64, ...).
 * - `no_matching_signature`: no signature in the request matches any configured secret (forged or tampered).
 * - `timestamp_too_old`: the signature is genuine but older than `tolerance` (a replay or a very late retry).
 * - `timestamp_in_future`: the signature is genuine but dated further ahead than `maxFutureSkew`.
 * - `empty_body`: the request has no body.
 * - `body_too_large`: the body exceeds `maxBytes` / `maxBodyBytes`.
 * - `invalid_body`: the body is not UTF-8, or not JSON when a JSON payload was asked for.
 * - `body_already_parsed`: a framework parsed the body before verification, so the raw bytes are gone.
 * - `body_read_failed`: the body stream failed or was aborted while it was read.
 * - `body_timeout`: the body did not arrive in full within the endpoint's `bodyTimeoutMs` (a stalled or trickling sender).
 * - `invalid_input`: `verifyWebhook` was given something that is neither a `Request` nor `{ body, headers }`.
 *
 * Configuration mistakes (answer 500, fix the deployment):
 * - `invalid_secret`: a secret is missing, empty, has stray whitespace, or has the wrong form for the scheme.
 * - `invalid_options`: another option is out of range or of the wrong type (also a `now` clock that returns no number).
 */
export type WebhookVerificationErrorCode =
  | 'missing_header'
  | 'duplicate_header'
  | 'malformed_header'
  | 'no_matching_signature'
  | 'timestamp_too_old'
  | 'timestamp_in_future'
  | 'empty_body'
  | 'body_too_large'
  | 'invalid_body'
  | 'body_already_parsed'
  | 'body_read_failed'
  | 'body_timeout'
  | 'invalid_input'
  | 'invalid_secret'
  | 'invalid_options';

/** Context attached to a {@link WebhookVerificationError}. */
export interface WebhookVerificationErrorContext extends BallastErrorOptions {
  /** The scheme that rejected the request, when one was chosen. */
  scheme?: string;
  /** The header at fault, for header codes. */
  header?: string;
}

/**
 * The only error `verifyWebhook`, `signWebhook` and the raw-body helpers throw or reject with.
 *
 * @example
 * ```ts
 * try {
 *   await verifyWebhook(request, { scheme: 'stripe', secret });
 * } catch (error) {
 *   if (isWebhookVerificationError(error)) console.log(error.code); // e.g. 'timestamp_too_old'
 * }
 * ```
 */
export class WebhookVerificationError extends BallastError<WebhookVerificationErrorCode> {
  override readonly name = 'WebhookVerificationError';
  /** The scheme that rejected the request, when one was chosen. */
  readonly scheme: string | undefined;
  /** The header at fault, for header codes. */
  readonly header: string | undefined;

  constructor(
    code: WebhookVerificationErrorCode,
    message: string,
    context: WebhookVerificationErrorContext = {},
    api = 'verifyWebhook',
  ) {
    super(`@ballast/core] [${api}`, code, message, context);
    this.scheme = context.scheme;
    this.header = context.header;
  }
}

/** True for a {@link WebhookVerificationError} from any realm or copy of the package. */
export const isWebhookVerificationError: (value: unknown) => value is WebhookVerificationError =
  errorGuard<WebhookVerificationError>('WebhookVerificationError');

/**
 * The HTTP status an endpoint answers for each code (the table in docs/webhooks.md): 401 when
 * authenticity fails, 413 for size, 408 for a late body, 500 for the deployment's own mistakes, 400
 * for the rest. What the webhook handler and `fastifyRawBody` answer. @internal
 */
export const WEBHOOK_ERROR_STATUS: Readonly<Record<WebhookVerificationErrorCode, number>> = {
  missing_header: 401,
  no_matching_signature: 401,
  duplicate_header: 400,
  malformed_header: 400,
  timestamp_too_old: 400,
  timestamp_in_future: 400,
  empty_body: 400,
  body_too_large: 413,
  invalid_body: 400,
  // a framework parsed the body before the route saw it: the route is misconfigured, no retry of the
  // sender's can fix it, and the operator must hear of it
  body_already_parsed: 500,
  body_read_failed: 400,
  body_timeout: 408,
  invalid_input: 400,
  // the deployment's configuration, not the request, is at fault
  invalid_secret: 500,
  invalid_options: 500,
};
