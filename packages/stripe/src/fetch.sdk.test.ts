import { isResilienceError, type ResilienceEvent } from '@ballast/core/resilience';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { isStripeUsageError } from './errors';
import { type StripeFetchOptions, stripeFetch } from './fetch';
import { createFakeStripe, type FakeStripe, type FakeStripeServer } from './testing/index';

const servers: FakeStripeServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

/** stripe-node with its retries off, over Ballast's fetch, against the fake on a real socket. */
async function sdkOverBallast(options: Partial<StripeFetchOptions> = {}) {
  const fake: FakeStripe = createFakeStripe({ rateLimit: false });
  const server = await fake.listen();
  servers.push(server);
  const events: ResilienceEvent[] = [];
  const sdk = new Stripe('sk_test_sdk_over_ballast', {
    host: server.host,
    port: server.port,
    protocol: 'http',
    telemetry: false,
    maxNetworkRetries: 0,
    httpClient: Stripe.createFetchHttpClient(
      stripeFetch({ mode: 'test', baseDelayMs: 0, maxDelayMs: 0, onEvent: (e) => events.push(e), ...options }),
    ),
  });
  return { fake, sdk, events };
}

describe('stripe-node over stripeFetch', () => {
  it('creates a customer, and a 429 is retried by Ballast with the same Idempotency-Key, not by the SDK', async () => {
    const { fake, sdk, events } = await sdkOverBallast();
    fake.fail({ kind: 'status', status: 429, code: 'rate_limit' }, { method: 'POST', path: '/v1/customers' });
    const customer: Stripe.Customer = await sdk.customers.create({ email: 'ada@example.com' });
    expect(customer.id).toMatch(/^cus_/);
    expect(customer.email).toBe('ada@example.com');
    const posts = fake.requests.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.status)).toEqual([429, 200]);
    expect(posts[0]?.idempotencyKey).toMatch(/^stripe-node-retry-/);
    expect(posts[1]?.idempotencyKey).toBe(posts[0]?.idempotencyKey);
    expect(events.filter((e) => e.type === 'retry')).toHaveLength(1);

    // Errors are stripe-node's own classes, built from Stripe's answer.
    const missing = await sdk.customers.retrieve('cus_missing').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((missing as Stripe.errors.StripeError).statusCode).toBe(404);
  });

  it('a 500 outage opens Ballast breaker; the SDK then gets its refusals without a request reaching Stripe', async () => {
    const { fake, sdk, events } = await sdkOverBallast({
      attempts: 2,
      breaker: { failureThreshold: 4, cooldownMs: 60_000 },
    });
    fake.fail({ kind: 'status', status: 500 }, { times: 1_000 });
    const outcomes: unknown[] = [];
    for (let i = 0; i < 4; i++) outcomes.push(await sdk.customers.list().catch((e: unknown) => e));
    // Two calls of two attempts each reach the fake and fail as stripe-node's StripeAPIError...
    expect(outcomes.slice(0, 2).every((e) => e instanceof Stripe.errors.StripeAPIError)).toBe(true);
    expect(events.some((e) => e.type === 'breaker.open')).toBe(true);
    // ...then the breaker refuses: nothing more is sent, and the SDK carries Ballast's error as `detail`.
    expect(fake.requests).toHaveLength(4);
    const refused = outcomes.at(-1) as Stripe.errors.StripeConnectionError;
    expect(refused).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(isResilienceError(refused.detail) && refused.detail.code).toBe('circuit_open');
  });

  it('rejects settings that cannot work', () => {
    expect(() => stripeFetch({})).toThrow(/mode/);
    expect(() => stripeFetch({ mode: 'prod' as 'live' })).toThrow(/mode/);
    try {
      stripeFetch({ mode: 'live', attempts: 0 });
    } catch (error) {
      expect(isStripeUsageError(error) && error.code).toBe('invalid_options');
      return;
    }
    throw new Error('expected invalid_options');
  });
});
