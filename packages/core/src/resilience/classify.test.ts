import { describe, expect, it, vi } from 'vitest';
import { cache, cacheStatus } from './cache';
import { memoryCache } from './cache-memory';
import { circuitBreaker } from './circuit-breaker';
import { type Classifier, defaultVerdict } from './classify';
import type { ResilienceError } from './errors';
import { resilientFetch } from './resilient-fetch';
import { settle } from './test-support';

/**
 * One classification per response, shared by retry, breaker and cache:
 * Google's legacy web services answer quota and server errors as HTTP 200
 * with a `status` field in the body.
 */
const URL_G = 'https://maps.test/maps/api/geocode/json?address=x&key=AIza-secret';
const KEY = 'maps.test';

/** Reads the body's `status` field: the classifier a provider package would ship. */
const googleClassify: Classifier = async (response, ctx) => {
  if (response.status !== 200) return undefined;
  const body = (await ctx.json()) as { status?: string } | undefined;
  if (body?.status === 'OVER_QUERY_LIMIT') return 'throttled';
  if (body?.status === 'UNKNOWN_ERROR') return 'retryable';
  return undefined;
};

/** A provider answering each body in turn (200s), then the last one forever. */
function google(statuses: string[]) {
  let i = 0;
  const hits = { count: 0 };
  const fetch = async () => {
    hits.count++;
    const status = statuses[Math.min(i++, statuses.length - 1)];
    return Response.json({ status, results: status === 'OK' ? [{ n: i }] : [] });
  };
  return { hits, fetch };
}

describe('classify', () => {
  it('retries a 200 that reports OVER_QUERY_LIMIT and hands the caller an unread body', async () => {
    const provider = google(['OVER_QUERY_LIMIT', 'OK']);
    const f = resilientFetch({
      fetch: provider.fetch,
      classify: googleClassify,
      breaker: false,
      retry: { random: () => 0 },
    });
    const res = await f(URL_G);
    expect(await res.json()).toEqual({ status: 'OK', results: [{ n: 2 }] });
    expect(provider.hits.count).toBe(2);
  });

  it('never caches a response judged a failure: a later outage serves the last good one', async () => {
    const store = memoryCache();
    const provider = google(['OK', 'UNKNOWN_ERROR']);
    const responses = cache({ store, rewriteAfterMs: 0 });
    const f = resilientFetch({
      fetch: provider.fetch,
      classify: googleClassify,
      cache: responses,
      breaker: false,
      retry: { attempts: 1 },
    });
    await (await f(URL_G)).text();
    const res = await f(URL_G); // 200 UNKNOWN_ERROR: a failure, so the cache stands in
    expect(cacheStatus(res)).toBe('stale');
    expect(await res.json()).toEqual({ status: 'OK', results: [{ n: 1 }] });
    await responses.flush();
    const stored = await store.get((await responses.keyOf(URL_G)) ?? '');
    expect(JSON.parse(new TextDecoder().decode(stored?.body))).toMatchObject({ status: 'OK' });
  });

  it('counts a 200 judged a failure against the breaker, never as a success', async () => {
    const provider = google(['UNKNOWN_ERROR']);
    const breakers = circuitBreaker({ failureThreshold: 3 });
    const f = resilientFetch({ fetch: provider.fetch, classify: googleClassify, breaker: breakers, retry: false });
    for (let i = 0; i < 3; i++) await f(URL_G);
    expect(breakers.state(KEY)).toBe('open');
    expect(((await settle(f(URL_G))).error as ResilienceError).code).toBe('circuit_open');
    expect(provider.hits.count).toBe(3);
  });

  it('a throttled verdict is retried but not counted against the breaker', async () => {
    const provider = google(['OVER_QUERY_LIMIT']);
    const breakers = circuitBreaker({ failureThreshold: 2 });
    const f = resilientFetch({
      fetch: provider.fetch,
      classify: googleClassify,
      breaker: breakers,
      retry: { attempts: 3, random: () => 0, budget: false },
    });
    const res = await f(URL_G);
    expect(res.status).toBe(200);
    expect(provider.hits.count).toBe(3);
    expect(breakers.state(KEY)).toBe('closed');
  });

  it('reading the body to classify it stops when the caller aborts', async () => {
    vi.useFakeTimers();
    const stalled = async () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode('{"status":'));
          },
        }),
      );
    const f = resilientFetch({ fetch: stalled, classify: googleClassify, breaker: false, retry: false });
    const controller = new AbortController();
    const pending = settle(f(URL_G, { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(50);
    controller.abort(new Error('user left'));
    expect(((await pending).error as Error).message).toBe('user left');
    vi.useRealTimers();
  });

  it('keeps the default verdict when the classifier returns undefined', () => {
    expect([200, 404, 408, 429, 500, 501, 503].map((s) => defaultVerdict(s))).toEqual([
      'success',
      'success',
      'retryable',
      'throttled',
      'retryable',
      'failure',
      'retryable',
    ]);
  });
});
