import { describe, expect, it } from 'vitest';
import { midBodyServer } from '../../../test-support/mid-body';
import { stripeClient } from './client';
import { isStripeError, type StripeError } from './errors';

/**
 * Real sockets: a server that answers the headers and then stalls, or breaks the connection,
 * mid-body. The client's per-attempt timeout ends with the headers; the body must be bounded too.
 */

const STRIPE_BODY = { start: '{"id":"cus_', headers: { 'Request-Id': 'req_mid' } };

const client = (baseUrl: string) =>
  stripeClient({
    apiKey: 'sk_test_body_secret_123',
    apiVersion: '2026-10-28.endive',
    baseUrl,
    timeoutMs: 300,
    breaker: false,
    limiter: false,
  });

describe('stripeClient when the body does not arrive', () => {
  it('a body that stalls after the headers is a StripeConnectionError once timeoutMs has passed again', async () => {
    const started = Date.now();
    const error = (await client(await midBodyServer('stall', STRIPE_BODY))
      .get('/v1/customers/cus_1')
      .catch((e: unknown) => e)) as StripeError;
    expect(isStripeError(error)).toBe(true);
    expect(error.code).toBe('connection');
    expect(error.status).toBe(200);
    expect(error.requestId).toBe('req_mid');
    expect(error.message).toContain('body did not arrive');
    expect(error.message).not.toContain('sk_test_body_secret_123');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a connection broken mid-body is a StripeConnectionError, not a bare TypeError', async () => {
    const error = (await client(await midBodyServer('reset', STRIPE_BODY))
      .post('/v1/customers', { email: 'ada@example.com' })
      .catch((e: unknown) => e)) as StripeError;
    expect(isStripeError(error)).toBe(true);
    expect(error.code).toBe('connection');
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it("a caller's abort during the body read rejects with the signal's reason", async () => {
    const controller = new AbortController();
    const reason = new Error('gave up');
    setTimeout(() => controller.abort(reason), 100);
    const stripe = stripeClient({
      apiKey: 'sk_test_x',
      apiVersion: '2026-10-28.endive',
      baseUrl: await midBodyServer('stall', STRIPE_BODY),
      timeoutMs: 5_000,
      breaker: false,
      limiter: false,
    });
    await expect(stripe.get('/v1/customers/cus_1', {}, { signal: controller.signal })).rejects.toBe(reason);
  });

  it('a 429 whose Retry-After is too long and whose body stalls is still a typed StripeRateLimitError, in bounded time', async () => {
    const base = await midBodyServer('stall', {
      status: '429 Too Many Requests',
      start: '{"error":{"',
      headers: { 'Retry-After': '3600' },
    });
    const started = Date.now();
    const error = (await client(base)
      .get('/v1/customers/cus_1')
      .catch((e: unknown) => e)) as StripeError;
    expect(isStripeError(error)).toBe(true);
    expect(error.code).toBe('rate_limited');
    expect(error.status).toBe(429);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
