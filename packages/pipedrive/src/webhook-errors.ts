import { BallastError, errorGuard } from '@ballast/core/errors';

/**
 * Why a webhook or sync API of `@ballast/pipedrive` refused its input:
 * - `invalid_options`: a bad option (missing credentials, an unknown entity, a bad lookback).
 * - `invalid_event`: a payload that is not a Pipedrive webhook event (v2 `meta` + `data`/`previous`, or v1).
 * - `registration_failed`: Pipedrive refused to create, list or delete a webhook (its answer is the `cause`).
 */
export type PipedriveWebhookErrorCode = 'invalid_options' | 'invalid_event' | 'registration_failed';

/** Bad input to the webhook, registration or sync APIs of `@ballast/pipedrive`: see {@link PipedriveWebhookErrorCode}. */
export class PipedriveWebhookError extends BallastError<PipedriveWebhookErrorCode> {
  override readonly name = 'PipedriveWebhookError';
  constructor(api: string, code: PipedriveWebhookErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(`@ballast/pipedrive] [${api}`, code, message, options);
  }
}

/** True for a {@link PipedriveWebhookError}, from any realm or copy of the package. */
export const isPipedriveWebhookError = errorGuard<PipedriveWebhookError>('PipedriveWebhookError');
