import { isRateLimitError, isResilienceError, rateLimiter } from '@ballast/core/resilience';
import { secret } from '@ballast/core/vault';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type StripeClientOptions, stripeClient } from './client';
import {
  isStripeError,
  isStripeUsageError,
  StripeCircuitOpenError,
  StripeConnectionError,
  type StripeError,
  StripeLimiterError,
} from './errors';
import { createFakeStripe, type FakeStripe } from './testing/index';

const VERSION = '2026-10-28.endive';

function setup(extra: Partial<StripeClientOptions> = {}, fake: FakeStripe = createFakeStripe({ rateLimit: false })) {
  const seen: Request[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    seen.push(request.clone());
    return fake.fetch(request);
  };
  const client = stripeClient({
    apiKey: 'sk_test_client1',
    apiVersion: VERSION,
    fetch,
    baseDelayMs: 0,
    maxDelayMs: 0,
    breaker: false,
    limiter: false,
    ...extra,
  });
  return { fake, client, seen };
}

async function rejection(promise: Promise<unknown>): Promise<StripeError> {
  try {
    await promise;
  } catch (error) {
    if (isStripeError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('stripeClient requests', () => {
  it('sends Bearer auth, Stripe-Version, Stripe-Account and a form-encoded body', async () => {
    const { client, seen } = setup({ account: 'acct_123' });
    const customer = await client.post<{ id: string; metadata: Record<string, string> }>('/v1/customers', {
      email: 'ada@example.com',
      metadata: { plan: 'pro' },
    });
    expect(customer.metadata).toEqual({ plan: 'pro' });
    const sent = seen[0] as Request;
    expect(sent.headers.get('authorization')).toBe('Bearer sk_test_client1');
    expect(sent.headers.get('stripe-version')).toBe(VERSION);
    expect(sent.headers.get('stripe-account')).toBe('acct_123');
    expect(sent.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(await sent.text()).toBe('email=ada%40example.com&metadata[plan]=pro');

    await client.get(
      '/v1/customers',
      { email: 'ada@example.com' },
      { account: 'acct_999', apiVersion: '2025-01-27.acacia' },
    );
    const list = seen[1] as Request;
    expect(new URL(list.url).search).toBe('?email=ada%40example.com');
    expect(list.headers.get('stripe-account')).toBe('acct_999');
    expect(list.headers.get('stripe-version')).toBe('2025-01-27.acacia');
    expect(list.headers.get('idempotency-key')).toBeNull();
  });

  it('accepts a vault Secret as the key and never prints it', async () => {
    const { client, seen } = setup({ apiKey: secret('sk_test_hidden42') });
    await client.get('/v1/customers');
    expect(seen[0]?.headers.get('authorization')).toBe('Bearer sk_test_hidden42');
    const error = await rejection(client.get('/v1/customers/cus_missing'));
    expect(JSON.stringify(error)).not.toContain('hidden42');
    expect(error.message).not.toContain('hidden42');
  });

  it('puts an Idempotency-Key on every POST, the same on each retry, and keeps a caller key', async () => {
    const { client, fake } = setup({ attempts: 4 });
    fake.fail({ kind: 'status', status: 500 }, { method: 'POST' });
    fake.fail({ kind: 'connection' }, { method: 'POST' });
    fake.fail({ kind: 'lock_timeout' }, { method: 'POST' });
    await client.post('/v1/customers', { email: 'x@example.com' });
    const posts = fake.requests.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.status)).toEqual([500, 0, 429, 200]);
    expect(new Set(posts.map((r) => r.idempotencyKey)).size).toBe(1);
    expect(posts[0]?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);

    await client.post('/v1/customers', {}, { idempotencyKey: 'order-7' });
    await client.post('/v1/customers', {});
    const keys = fake.requests.filter((r) => r.method === 'POST').map((r) => r.idempotencyKey);
    expect(keys.at(-2)).toBe('order-7');
    expect(new Set(keys).size).toBe(3);
  });

  it('a retried POST whose first attempt was saved gets the replay, not a second object', async () => {
    const { client, fake } = setup();
    const first = await client.post<{ id: string }>(
      '/v1/customers',
      { email: 'once@example.com' },
      { idempotencyKey: 'k1' },
    );
    const again = await client.post<{ id: string }>(
      '/v1/customers',
      { email: 'once@example.com' },
      { idempotencyKey: 'k1' },
    );
    expect(again.id).toBe(first.id);
    expect(fake.requests.at(-1)?.replayed).toBe(true);
    const reused = await rejection(
      client.post('/v1/customers', { email: 'other@example.com' }, { idempotencyKey: 'k1' }),
    );
    expect(reused.name).toBe('StripeIdempotencyError');
    expect(reused.code).toBe('idempotency');
  });

  it('retries 409 and 5xx, and stops at the attempt limit with a typed error', async () => {
    const { client, fake } = setup({ attempts: 3 });
    fake.fail({ kind: 'status', status: 409, type: 'idempotency_error' }, { method: 'GET' });
    await client.get('/v1/customers');
    expect(fake.requests.map((r) => r.status)).toEqual([409, 200]);
    fake.fail({ kind: 'status', status: 503 }, { method: 'GET', times: 3 });
    const error = await rejection(client.get('/v1/customers'));
    expect(error.name).toBe('StripeAPIError');
    expect(error.status).toBe(503);
    expect(fake.requests.slice(2).map((r) => r.status)).toEqual([503, 503, 503]);
  });

  it('retries a plain 429 rate_limit by default (and not with retryRateLimited: false); never 400 or 402', async () => {
    const { client, fake } = setup({ attempts: 3 });
    fake.fail({ kind: 'status', status: 429, code: 'rate_limit', type: 'invalid_request_error' });
    await client.get('/v1/customers');
    fake.fail({ kind: 'status', status: 402, type: 'card_error', code: 'card_declined' });
    expect((await rejection(client.get('/v1/customers'))).name).toBe('StripeCardError');
    fake.fail({ kind: 'status', status: 400, code: 'parameter_missing' });
    expect((await rejection(client.get('/v1/customers'))).name).toBe('StripeInvalidRequestError');
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200, 402, 400]);

    const strict = setup({ attempts: 3, retryRateLimited: false });
    strict.fake.fail({ kind: 'status', status: 429, code: 'rate_limit' });
    const limited = await rejection(strict.client.get('/v1/customers'));
    expect(limited.name).toBe('StripeRateLimitError');
    expect(limited.stripeCode).toBe('rate_limit');
    strict.fake.fail({ kind: 'lock_timeout' });
    await strict.client.get('/v1/customers');
    expect(strict.fake.requests.map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it('reports an exhausted retry budget as the typed error of the last answer', async () => {
    const { client, fake } = setup({ attempts: 5, retryBudget: { ratio: 0, minPerSecond: 0, maxTokens: 1 } });
    fake.fail({ kind: 'status', status: 503 }, { times: 5 });
    const error = await rejection(client.get('/v1/customers'));
    expect(error.name).toBe('StripeAPIError');
    expect(error.status).toBe(503);
    expect((error.cause as { code?: string }).code).toBe('retry_budget_exhausted');
    expect(fake.requests).toHaveLength(2);
  });

  it('lets Stripe-Should-Retry override the status rule both ways', async () => {
    const { client, fake } = setup({ attempts: 3 });
    fake.fail({ kind: 'status', status: 500, shouldRetry: false });
    const error = await rejection(client.get('/v1/customers'));
    expect(error.shouldRetry).toBe(false);
    fake.fail({ kind: 'status', status: 400, shouldRetry: true });
    await client.get('/v1/customers');
    expect(fake.requests.map((r) => r.status)).toEqual([500, 400, 200]);
  });

  it('turns a connection that never answers into a StripeConnectionError', async () => {
    const { client, fake } = setup({ attempts: 2 });
    fake.fail({ kind: 'connection' }, { times: 2 });
    const error = await rejection(client.get('/v1/customers'));
    expect(error.name).toBe('StripeConnectionError');
    expect(error.code).toBe('connection');
    expect(error.status).toBeUndefined();
  });

  it('builds typed errors from Stripe error JSON with param and request id', async () => {
    const { client } = setup();
    const error = await rejection(client.get('/v1/customers/cus_nope'));
    expect(error).toMatchObject({
      name: 'StripeInvalidRequestError',
      code: 'invalid_request',
      status: 404,
      stripeCode: 'resource_missing',
      param: 'id',
      type: 'invalid_request_error',
    });
    expect(error.requestId).toMatch(/^req_/);
    const unknown = await rejection(client.post('/v1/customers', { nickname: 'x' }));
    expect(unknown).toMatchObject({ stripeCode: 'parameter_unknown', param: 'nickname' });
  });

  it('answers invalid_response for a 200 that is not JSON', async () => {
    const client = stripeClient({
      apiKey: 'sk_test_x1',
      apiVersion: VERSION,
      limiter: false,
      fetch: async () => new Response('<html>', { status: 200 }),
    });
    expect((await rejection(client.get('/v1/customers'))).code).toBe('invalid_response');
  });
});

describe('stripeClient pagination', () => {
  it('walks every page newest first, 100 per page, and backwards with ending_before', async () => {
    const { client, fake } = setup();
    const ids: string[] = [];
    for (let i = 0; i < 230; i++) ids.push((await client.post<{ id: string }>('/v1/customers', {})).id);
    const before = fake.requests.length;
    const all: string[] = [];
    for await (const c of client.list<{ id: string }>('/v1/customers')) all.push(c.id);
    expect(all).toEqual([...ids].reverse());
    expect(fake.requests.length - before).toBe(3);

    const sizes: number[] = [];
    for await (const page of client.pages('/v1/customers', { limit: 50 })) sizes.push(page.data.length);
    expect(sizes).toEqual([50, 50, 50, 50, 30]);

    const newer: string[] = [];
    for await (const c of client.list<{ id: string }>('/v1/customers', {
      ending_before: ids[200] as string,
      limit: 10,
    }))
      newer.push(c.id);
    expect(newer).toEqual(ids.slice(201));

    const firstFive: string[] = [];
    for await (const c of client.list<{ id: string }>('/v1/customers')) {
      firstFive.push(c.id);
      if (firstFive.length === 5) break;
    }
    expect(firstFive).toEqual(ids.slice(-5).reverse());
  });

  it('rejects an answer that is not a list', async () => {
    const client = stripeClient({
      apiKey: 'sk_test_x1',
      apiVersion: VERSION,
      limiter: false,
      fetch: async () => Response.json({ id: 'cus_1', object: 'customer' }),
    });
    const iterate = async () => {
      for await (const _ of client.list('/v1/customers')) {
        // never reached
      }
    };
    await expect(iterate()).rejects.toMatchObject({ code: 'invalid_response' });
  });

  it('stops with invalid_response when has_more pages repeat the cursor they were asked after', async () => {
    let calls = 0;
    const client = stripeClient({
      apiKey: 'sk_test_x1',
      apiVersion: VERSION,
      limiter: false,
      fetch: async () => {
        calls++;
        return Response.json({ object: 'list', data: [{ id: 'cus_1' }], has_more: true, url: '/v1/customers' });
      },
    });
    const seen: string[] = [];
    const iterate = async () => {
      for await (const customer of client.list<{ id: string }>('/v1/customers')) seen.push(customer.id);
    };
    await expect(iterate()).rejects.toMatchObject({ code: 'invalid_response' });
    expect(seen).toEqual(['cus_1']);
    expect(calls).toBe(2);
  });
});

describe('stripeClient rate limit', () => {
  it('keeps a test key under 25 requests per second by default, so the fake never answers 429', async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const fake = createFakeStripe({ now: () => Date.now() });
    const client = stripeClient({ apiKey: 'sk_test_limit', apiVersion: VERSION, fetch: fake.fetch, breaker: false });
    expect(client.mode).toBe('test');
    const started = Date.now();
    const all = Promise.all(Array.from({ length: 60 }, () => client.get('/v1/customers')));
    await vi.advanceTimersByTimeAsync(3_000);
    await all;
    expect(fake.requests.every((r) => r.status === 200)).toBe(true);
    expect(fake.requests).toHaveLength(60);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);

    const live = stripeClient({ apiKey: 'sk_live_limit', apiVersion: VERSION, fetch: fake.fetch, breaker: false });
    expect(live.mode).toBe('live');
  });
});

describe('stripeClient options', () => {
  it.each([
    ['a missing key', { apiKey: undefined }],
    ['a webhook secret as key', { apiKey: 'whsec_abc' }],
    ['a publishable key', { apiKey: 'pk_test_abc' }],
    ['a bad version', { apiVersion: 'latest' }],
    ['a bad account', { account: 'cus_123' }],
    ['zero attempts', { attempts: 0 }],
    ['a fractional delay', { baseDelayMs: 0.5 }],
    ['a bad baseUrl', { baseUrl: 'ftp://x' }],
    ['a fetch that is not a function', { fetch: 'nope' }],
  ])('rejects %s with invalid_options', (_name, patch) => {
    const options = { apiKey: 'sk_test_ok', apiVersion: VERSION, ...patch } as unknown as StripeClientOptions;
    try {
      stripeClient(options);
      expect.unreachable();
    } catch (error) {
      expect(isStripeUsageError(error)).toBe(true);
      expect((error as { code: string }).code).toBe('invalid_options');
      expect(String(error)).not.toContain('whsec_abc');
    }
  });

  it('rejects bad paths, methods and idempotency keys per call', async () => {
    const { client } = setup();
    await expect(client.get('customers')).rejects.toMatchObject({ code: 'invalid_params' });
    await expect(client.get('/v1/customers?x=1')).rejects.toMatchObject({ code: 'invalid_params' });
    await expect(client.request('PATCH' as 'GET', '/v1/customers')).rejects.toMatchObject({ code: 'invalid_params' });
    await expect(client.post('/v1/customers', {}, { idempotencyKey: 'k'.repeat(256) })).rejects.toMatchObject({
      code: 'invalid_params',
    });
  });
});

describe('stripeClient refusals are not connection errors', () => {
  it('an open breaker rejects with StripeCircuitOpenError and sends nothing', async () => {
    const { client, fake } = setup({ attempts: 1, breaker: { failureThreshold: 2, cooldownMs: 60_000 } });
    fake.fail({ kind: 'status', status: 500 }, { times: 2 });
    for (let i = 0; i < 2; i++) expect((await rejection(client.get('/v1/customers'))).name).toBe('StripeAPIError');
    const sent = fake.requests.length;
    const error = await rejection(client.get('/v1/customers'));
    expect(error).toBeInstanceOf(StripeCircuitOpenError);
    expect(error).not.toBeInstanceOf(StripeConnectionError);
    expect(error.code).toBe('circuit_open');
    expect(error.waitMs).toBeGreaterThan(0);
    expect(isResilienceError(error.cause) && error.cause.code).toBe('circuit_open');
    expect(error.message).toMatch(/^\[@ballast\/stripe\] \[stripeClient\] GET \/v1\/customers was not sent/);
    expect(fake.requests.length).toBe(sent);
  });

  it('a limiter refusal rejects with StripeLimiterError and sends nothing', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const limiter = rateLimiter({ concurrency: 1, maxQueued: 1 });
    const fake = createFakeStripe({ rateLimit: false });
    const { client } = setup({ limiter, attempts: 1 }, fake);
    // One call runs (its fetch is held), one waits; the third finds the queue full.
    const slow = stripeClient({
      apiKey: 'sk_test_client1',
      apiVersion: VERSION,
      limiter,
      breaker: false,
      attempts: 1,
      fetch: async (input, init) => {
        await held;
        return fake.fetch(input, init);
      },
    });
    const running = slow.get('/v1/customers');
    const queued = client.get('/v1/customers');
    const error = await rejection(client.get('/v1/customers'));
    expect(error).toBeInstanceOf(StripeLimiterError);
    expect(error).not.toBeInstanceOf(StripeConnectionError);
    expect(error.code).toBe('limiter_refused');
    expect(isRateLimitError(error.cause) && error.cause.code).toBe('queue_full');
    release();
    await Promise.all([running, queued]);
    expect(fake.requests.length).toBe(2);
  });

  it('an abort rejects with the signal reason: in flight, while queued in the limiter, and before the call', async () => {
    const limiter = rateLimiter({ concurrency: 1 });
    const client = stripeClient({
      apiKey: 'sk_test_client1',
      apiVersion: VERSION,
      limiter,
      breaker: false,
      attempts: 3,
      baseDelayMs: 0,
      maxDelayMs: 0,
      // Never answers until aborted, like a stalled connection.
      fetch: (input, init) =>
        new Promise<Response>((_resolve, reject) => {
          const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
    });
    const inFlight = new AbortController();
    const queued = new AbortController();
    const first = client.get('/v1/customers', {}, { signal: inFlight.signal });
    const second = client.get('/v1/customers', {}, { signal: queued.signal });
    const reason = new Error('the user left');
    queued.abort(reason);
    inFlight.abort(reason);
    await expect(second).rejects.toBe(reason);
    await expect(first).rejects.toBe(reason);
    const early = new AbortController();
    early.abort();
    const error = await client.get('/v1/customers', {}, { signal: early.signal }).catch((e: unknown) => e);
    expect(isStripeError(error)).toBe(false);
    expect((error as Error).name).toBe('AbortError');
  });
});
