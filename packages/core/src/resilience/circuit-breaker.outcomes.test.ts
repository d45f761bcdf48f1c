import { describe, expect, it, vi } from 'vitest';
import { circuitBreaker } from './circuit-breaker';
import { isResilienceError, type ResilienceError } from './errors';
import { RateLimitError } from './rate-limit/errors';
import { resilientFetch } from './resilient-fetch';
import { recorder, settle } from './test-support';
import type { BreakerStateEvent, RateLimiter } from './types';

/**
 * The breaker's three outcomes (success, failure, ignored) and its controls,
 * driven through resilientFetch with fetch stubs: no network involved.
 */
const URL_A = 'https://three.test/v1/things';
const KEY = 'three.test';

/** A fetch stub answering `status()` and counting calls. */
function stub(status: () => number) {
  const hits = { count: 0 };
  const fetch = async () => {
    hits.count++;
    return new Response(null, { status: status() });
  };
  return { hits, fetch };
}

/** A limiter that refuses every call for which `refuse()` is true, and runs the others at once. */
function refusingLimiter(refuse: () => boolean): RateLimiter {
  return {
    schedule: (fn, options) =>
      refuse()
        ? Promise.reject(new RateLimitError('rateLimiter', 'queue_full', 'the queue is full'))
        : fn(options?.signal),
  };
}

/** A limiter whose queue never moves: calls wait until their signal aborts. */
const stuckLimiter: RateLimiter = {
  schedule: (_fn, options) =>
    new Promise((_, reject) => options?.signal?.addEventListener('abort', () => reject(options.signal?.reason))),
};

describe('circuit breaker outcomes', () => {
  it('2 of 3 calls refused locally + 67 consecutive 503s opens the breaker', async () => {
    let n = 0;
    const provider = stub(() => 503);
    const breakers = circuitBreaker();
    const f = resilientFetch({
      fetch: provider.fetch,
      retry: false,
      breaker: breakers,
      limiter: refusingLimiter(() => n++ % 3 !== 2),
    });
    for (let i = 0; i < 201; i++) await settle(f(URL_A)); // 67 of them reach the provider while it stays closed
    expect(breakers.state(KEY)).toBe('open');
    expect(provider.hits.count).toBe(5); // the fifth 503 in a row opened it; the refusals did not break the run
  });

  it('a half-open probe refused by the limiter does not close the breaker', async () => {
    vi.useFakeTimers();
    let refuse = false;
    const provider = stub(() => 503);
    const breakers = circuitBreaker({ failureThreshold: 2, cooldownMs: 1_000 });
    const f = resilientFetch({
      fetch: provider.fetch,
      retry: false,
      breaker: breakers,
      limiter: refusingLimiter(() => refuse),
    });
    await f(URL_A);
    await f(URL_A);
    await vi.advanceTimersByTimeAsync(1_000);
    refuse = true;
    const refused = await settle(f(URL_A));
    expect((refused.error as RateLimitError).code).toBe('queue_full');
    expect(breakers.state(KEY)).toBe('half_open');
    refuse = false;
    expect((await f(URL_A)).status).toBe(503); // the slot went back: this call is the probe
    expect(breakers.state(KEY)).toBe('open');
    expect(provider.hits.count).toBe(3);
    vi.useRealTimers();
  });

  it('a half-open probe out of deadline while queued does not close the breaker', async () => {
    vi.useFakeTimers();
    let stuck = false;
    const provider = stub(() => 503);
    const breakers = circuitBreaker({ failureThreshold: 2, cooldownMs: 1_000 });
    const limiter: RateLimiter = {
      schedule: (fn, options) => (stuck ? stuckLimiter.schedule(fn, options) : fn(options?.signal)),
    };
    const f = resilientFetch({ fetch: provider.fetch, retry: false, breaker: breakers, limiter, deadlineMs: 500 });
    await f(URL_A);
    await f(URL_A);
    await vi.advanceTimersByTimeAsync(1_000);
    stuck = true;
    const probe = settle(f(URL_A));
    await vi.advanceTimersByTimeAsync(500);
    expect(((await probe).error as ResilienceError).code).toBe('deadline_exceeded');
    expect(breakers.state(KEY)).toBe('half_open');
    expect(breakers.health()[0]?.retryInMs).toBe(0); // no probe holds the slot
    vi.useRealTimers();
  });

  it('bounds a probe stuck in an unbounded limiter queue: the slot is freed after probeTimeoutMs', async () => {
    vi.useFakeTimers();
    let stuck = false;
    let sent = 0;
    const breakers = circuitBreaker({ failureThreshold: 2, cooldownMs: 1_000, probeTimeoutMs: 2_000 });
    const limiter: RateLimiter = {
      schedule: (fn, options) => (stuck ? stuckLimiter.schedule(fn, options) : fn(options?.signal)),
    };
    let status = 503;
    const f = resilientFetch({
      fetch: async () => {
        sent++;
        return new Response(null, { status });
      },
      retry: false,
      breaker: breakers,
      limiter,
    });
    await f(URL_A);
    await f(URL_A);
    await vi.advanceTimersByTimeAsync(1_000);
    stuck = true;
    const probe = settle(f(URL_A));
    const meanwhile = await settle(f(URL_A));
    expect((meanwhile.error as ResilienceError).code).toBe('circuit_open');
    expect((meanwhile.error as ResilienceError).waitMs).toBe(2_000); // when the probe loses its slot at the latest
    await vi.advanceTimersByTimeAsync(2_000);
    const { error } = await probe;
    expect(isResilienceError(error) && error.code).toBe('circuit_open');
    expect(breakers.state(KEY)).toBe('half_open');
    stuck = false;
    status = 200;
    expect((await f(URL_A)).status).toBe(200);
    expect(breakers.state(KEY)).toBe('closed');
    expect(sent).toBe(3); // two 503s and the second probe; the stuck one never reached the provider
    vi.useRealTimers();
  });

  it('bounds a hung probe with timeoutMs: false: it times out after probeTimeoutMs and re-opens the breaker', async () => {
    vi.useFakeTimers();
    let hang = false;
    const breakers = circuitBreaker({ failureThreshold: 2, cooldownMs: 1_000, probeTimeoutMs: 3_000 });
    const f = resilientFetch({
      fetch: (_input, init) =>
        hang
          ? new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)))
          : Promise.resolve(new Response(null, { status: 503 })),
      retry: false,
      breaker: breakers,
      timeoutMs: false,
    });
    await f(URL_A);
    await f(URL_A);
    await vi.advanceTimersByTimeAsync(1_000);
    hang = true;
    const probe = settle(f(URL_A));
    await vi.advanceTimersByTimeAsync(3_000);
    expect(((await probe).error as ResilienceError).code).toBe('timeout');
    expect(breakers.state(KEY)).toBe('open');
    expect(breakers.health()[0]?.retryInMs).toBe(2_000); // the second break is twice the first
    vi.useRealTimers();
  });

  it('grows the break after each failed probe up to maxCooldownMs, and a success brings it back', async () => {
    vi.useFakeTimers();
    let status = 503;
    const breakers = circuitBreaker({ failureThreshold: 2, cooldownMs: 1_000, maxCooldownMs: 5_000 });
    const f = resilientFetch({ fetch: async () => new Response(null, { status }), retry: false, breaker: breakers });
    await f(URL_A);
    await f(URL_A);
    const breaks: number[] = [];
    for (let i = 0; i < 4; i++) {
      const wait = breakers.health()[0]?.retryInMs ?? 0;
      breaks.push(wait);
      await vi.advanceTimersByTimeAsync(wait);
      await f(URL_A); // a failing probe
    }
    breaks.push(breakers.health()[0]?.retryInMs ?? 0);
    expect(breaks).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    await vi.advanceTimersByTimeAsync(5_000);
    status = 200;
    await f(URL_A);
    expect(breakers.state(KEY)).toBe('closed');
    status = 503;
    await f(URL_A);
    await f(URL_A);
    expect(breakers.health()[0]?.retryInMs).toBe(1_000);
    vi.useRealTimers();
  });

  it('isolate() holds a breaker open until every hold is released; reset() closes an open one', async () => {
    const rec = recorder();
    const provider = stub(() => 200);
    const breakers = circuitBreaker({ failureThreshold: 2, onEvent: rec.onEvent });
    const f = resilientFetch({ fetch: provider.fetch, retry: false, breaker: breakers });
    const first = breakers.isolate(KEY);
    const second = breakers.isolate(KEY);
    expect(breakers.state(KEY)).toBe('isolated');
    const { error } = await settle(f(URL_A));
    expect((error as ResilienceError).code).toBe('circuit_open');
    first.release();
    first.release(); // idempotent
    expect(breakers.state(KEY)).toBe('isolated');
    second.release();
    expect(breakers.state(KEY)).toBe('closed');
    expect((await f(URL_A)).status).toBe(200);
    expect(provider.hits.count).toBe(1);

    const down = stub(() => 503);
    const g = resilientFetch({ fetch: down.fetch, retry: false, breaker: breakers });
    await g(URL_A);
    await g(URL_A);
    expect(breakers.state(KEY)).toBe('open');
    breakers.reset(KEY);
    expect(breakers.health()).toEqual([{ key: KEY, state: 'closed', consecutiveFailures: 0, retryInMs: 0 }]);
    expect(rec.types()).toEqual([
      'breaker.isolate',
      'breaker.reject',
      'breaker.close',
      'breaker.open',
      'breaker.close',
    ]);
  });

  it('breaker events reach the onEvent given to resilientFetch when the registry was built separately', async () => {
    const rec = recorder();
    const breakers = circuitBreaker({ failureThreshold: 2 }); // no onEvent of its own, as in the quick start
    const f = resilientFetch({
      fetch: async () => new Response(null, { status: 503 }),
      retry: false,
      breaker: breakers,
      onEvent: rec.onEvent,
    });
    await f(`${URL_A}?key=s3cr3t`, { policy: { context: { tenant: 't1' } } });
    await f(URL_A);
    await settle(f(URL_A));
    expect(rec.types()).toEqual(['breaker.open', 'breaker.reject']);
    const opened = rec.events[0] as BreakerStateEvent;
    expect(opened).toMatchObject({ key: KEY, from: 'closed', method: 'GET', url: URL_A, attempt: 1 });
    expect(opened.callId).toMatch(/^call-\d+$/);
  });
});
