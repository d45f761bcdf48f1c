import { isBallastError } from '@ballast/core/errors';
import { describe, expect, it } from 'vitest';
import { isStripeError, isStripeUsageError, StripeError, StripeUsageError, stripeErrorFromResponse } from './errors';

const headers = (extra: Record<string, string> = {}) => new Headers({ 'request-id': 'req_123', ...extra });

describe('stripeErrorFromResponse', () => {
  it.each([
    [
      402,
      { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds' },
      'StripeCardError',
      'card_error',
    ],
    [
      404,
      { type: 'invalid_request_error', code: 'resource_missing', param: 'id' },
      'StripeInvalidRequestError',
      'invalid_request',
    ],
    [
      400,
      { type: 'invalid_request_error', code: 'parameter_unknown', param: 'x' },
      'StripeInvalidRequestError',
      'invalid_request',
    ],
    [401, { type: 'invalid_request_error' }, 'StripeAuthenticationError', 'authentication'],
    [403, { type: 'invalid_request_error' }, 'StripePermissionError', 'permission'],
    [400, { type: 'idempotency_error' }, 'StripeIdempotencyError', 'idempotency'],
    [409, { type: 'idempotency_error', code: 'idempotency_key_in_use' }, 'StripeIdempotencyError', 'idempotency'],
    [429, { type: 'invalid_request_error', code: 'rate_limit' }, 'StripeRateLimitError', 'rate_limited'],
    [429, { type: 'invalid_request_error', code: 'lock_timeout' }, 'StripeRateLimitError', 'rate_limited'],
    [400, { type: 'invalid_request_error', code: 'rate_limit' }, 'StripeRateLimitError', 'rate_limited'],
    [500, { type: 'api_error' }, 'StripeAPIError', 'api_error'],
    [503, undefined, 'StripeAPIError', 'api_error'],
    [418, undefined, 'StripeConnectionError', 'invalid_response'],
  ])('%i %j → %s (%s)', (status, error, name, code) => {
    const e = stripeErrorFromResponse(status, error ? { error: { message: 'boom', ...error } } : 'not json', headers());
    expect(e.name).toBe(name);
    expect(e.code).toBe(code);
    expect(e.status).toBe(status);
    expect(e.requestId).toBe('req_123');
    expect(isStripeError(e)).toBe(true);
    expect(isBallastError(e)).toBe(true);
    expect(e.message.startsWith('[@ballast/stripe] [stripeClient] Stripe answered')).toBe(true);
    if (error) {
      expect(e.type).toBe(error.type);
      expect(e.stripeCode).toBe((error as { code?: string }).code);
    }
  });

  it('keeps param, decline code and the Stripe-Should-Retry verdict', () => {
    const e = stripeErrorFromResponse(
      402,
      {
        error: {
          type: 'card_error',
          code: 'card_declined',
          decline_code: 'lost_card',
          param: 'source',
          doc_url: 'https://d',
        },
      },
      headers({ 'stripe-should-retry': 'false' }),
    );
    expect(e).toMatchObject({ param: 'source', declineCode: 'lost_card', docUrl: 'https://d', shouldRetry: false });
    expect(stripeErrorFromResponse(500, {}, headers({ 'stripe-should-retry': 'true' })).shouldRetry).toBe(true);
    expect(stripeErrorFromResponse(500, {}, headers()).shouldRetry).toBeUndefined();
  });

  it('guards tell API errors from usage errors and from look-alikes', () => {
    const usage = new StripeUsageError('stripeClient', 'invalid_options', 'bad');
    expect(isStripeUsageError(usage)).toBe(true);
    expect(isStripeError(usage)).toBe(false);
    expect(isStripeError(new StripeError('api_error', 'x'))).toBe(true);
    expect(isStripeError(Object.assign(new Error('x'), { name: 'StripeCardError' }))).toBe(false);
    expect(usage.message).toBe('[@ballast/stripe] [stripeClient] bad');
  });
});
