import { HttpResponse, http } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { isResilienceError, type ResilienceError } from './errors';
import { resilientFetch } from './resilient-fetch';
import { retry } from './retry';
import { retryBudget } from './retry-budget';
import { recorder, settle, useMsw } from './test-support';
import type { RetryEvent } from './types';

const server = useMsw();
const URL_A = 'https://api.test/items';

/** Answers with each status in turn, then the last one forever; counts calls. */
function sequence(statuses: number[], headers: Record<string, string> = {}) {
  const seen: Request[] = [];
  let i = 0;
  server.use(
    http.all(URL_A, ({ request }) => {
      seen.push(request.clone());
      const status = statuses[Math.min(i++, statuses.length - 1)] ?? 200;
      return new HttpResponse(status === 200 ? 'ok' : `status ${status}`, { status, headers });
    }),
  );
  return seen;
}

/** A retry-only fetch (no breaker, no timeout), deterministic jitter. */
function retrying(options: Parameters<typeof retry>[0] = {}) {
  return retry({ random: () => 0.5, budget: false, ...options }).wrap((i, n) => fetch(i, n));
}

describe('retry', () => {
  it('retries a 503 with full-jitter backoff and returns the first success', async () => {
    vi.useFakeTimers();
    const seen = sequence([503, 503, 200]);
    const rec = recorder();
    const f = retrying({ onEvent: rec.onEvent, random: () => 0.999 });
    const pending = f(URL_A);
    await vi.advanceTimersByTimeAsync(2_000);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(seen).toHaveLength(3);
    const retries = rec.events.filter((e): e is RetryEvent => e.type === 'retry');
    // full jitter: random * min(cap, base * 2^(n-1)) => 0.999 * 500, 0.999 * 1000
    expect(retries.map((e) => [e.attempt, e.delayMs, e.status, e.delaySource])).toEqual([
      [1, 499, 503, 'backoff'],
      [2, 999, 503, 'backoff'],
    ]);
  });

  it('waits the whole backoff before the next attempt, and caps it at maxDelayMs', async () => {
    vi.useFakeTimers();
    const seen = sequence([500, 500, 500, 200]);
    const f = retrying({ attempts: 4, baseDelayMs: 1_000, maxDelayMs: 1_500, random: () => 0.999 });
    const pending = settle(f(URL_A));
    await vi.advanceTimersByTimeAsync(998);
    expect(seen).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1_498); // capped at 1_500, not 2_000
    expect(seen).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1_500);
    expect((await pending).value?.status).toBe(200);
    expect(seen).toHaveLength(4);
  });

  it.each([408, 429, 500, 502, 503, 504])('retries %i by default', async (status) => {
    vi.useFakeTimers();
    const seen = sequence([status, 200]);
    const pending = retrying()(URL_A);
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await pending).status).toBe(200);
    expect(seen).toHaveLength(2);
  });

  it.each([400, 401, 404, 409, 422, 501])('does not retry %i by default and returns it', async (status) => {
    const seen = sequence([status, 200]);
    const res = await retrying()(URL_A);
    expect(res.status).toBe(status);
    expect(seen).toHaveLength(1);
  });

  it('retries network errors, and hands back the last one when attempts run out', async () => {
    vi.useFakeTimers();
    let calls = 0;
    server.use(
      http.get(URL_A, () => {
        calls++;
        return HttpResponse.error();
      }),
    );
    const rec = recorder();
    const pending = settle(retrying({ onEvent: rec.onEvent })(URL_A));
    await vi.advanceTimersByTimeAsync(5_000);
    const { error } = await pending;
    expect(error).toBeInstanceOf(TypeError);
    expect(calls).toBe(3);
    expect(rec.types()).toEqual(['retry', 'retry', 'retry.give_up']);
  });

  it('returns the last failed response when attempts run out', async () => {
    vi.useFakeTimers();
    const seen = sequence([503]);
    const pending = retrying({ attempts: 2 })(URL_A);
    await vi.advanceTimersByTimeAsync(1_000);
    const res = await pending;
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('status 503');
    expect(seen).toHaveLength(2);
  });

  describe('server-requested waits', () => {
    it('honors Retry-After in seconds, never retrying sooner', async () => {
      vi.useFakeTimers();
      const seen = sequence([429, 200], { 'retry-after': '7' });
      const rec = recorder();
      const pending = retrying({ onEvent: rec.onEvent })(URL_A);
      await vi.advanceTimersByTimeAsync(6_999);
      expect(seen).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect((await pending).status).toBe(200);
      expect(rec.events[0]).toMatchObject({ type: 'retry', delayMs: 7_000, delaySource: 'server' });
    });

    it('honors Retry-After as an HTTP-date', async () => {
      vi.useFakeTimers();
      vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
      const seen = sequence([503, 200], { 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' });
      const pending = retrying()(URL_A);
      await vi.advanceTimersByTimeAsync(29_999);
      expect(seen).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect((await pending).status).toBe(200);
      expect(seen).toHaveLength(2);
    });

    it('honors retry-after-ms and x-ratelimit-reset, taking the longest', async () => {
      vi.useFakeTimers();
      const seen = sequence([429, 200], { 'retry-after-ms': '1500', 'x-ratelimit-reset': '3' });
      const pending = retrying()(URL_A);
      await vi.advanceTimersByTimeAsync(2_999);
      expect(seen).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect((await pending).status).toBe(200);
    });

    it('honors RateLimit-Reset on a 429', async () => {
      vi.useFakeTimers();
      const seen = sequence([429, 200], { 'ratelimit-reset': '4' });
      const pending = retrying()(URL_A);
      await vi.advanceTimersByTimeAsync(3_999);
      expect(seen).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect((await pending).status).toBe(200);
    });

    it('fails at once with retry_after_too_long, carrying the wait, when the server asks too much', async () => {
      const seen = sequence([503, 200], { 'retry-after': '120' });
      const { error } = await settle(retrying({ maxRetryAfterMs: 60_000 })(URL_A));
      expect(isResilienceError(error)).toBe(true);
      const e = error as ResilienceError;
      expect(e.code).toBe('retry_after_too_long');
      expect(e.waitMs).toBe(120_000);
      expect(e.response?.status).toBe(503);
      expect(seen).toHaveLength(1);
    });

    it('fails at once with deadline_exceeded when the wait would pass the deadline', async () => {
      const seen = sequence([503, 200], { 'retry-after': '20' });
      const f = resilientFetch({ retry: { budget: false }, breaker: false, deadlineMs: 10_000 });
      const { error } = await settle(f(URL_A));
      expect((error as ResilienceError).code).toBe('deadline_exceeded');
      expect((error as ResilienceError).waitMs).toBe(20_000);
      expect(seen).toHaveLength(1);
    });
  });

  describe('idempotency', () => {
    it('does not retry a POST without an Idempotency-Key, on a 503 or a dropped connection', async () => {
      const seen = sequence([503, 200]);
      const rec = recorder();
      const f = retrying({ onEvent: rec.onEvent });
      expect((await f(URL_A, { method: 'POST', body: 'x' })).status).toBe(503);
      expect(seen).toHaveLength(1);
      expect(rec.events).toMatchObject([{ type: 'retry.give_up', reason: 'unsafe_method' }]);

      let calls = 0;
      server.use(
        http.post(URL_A, () => {
          calls++;
          return HttpResponse.error();
        }),
      );
      await expect(f(URL_A, { method: 'POST', body: 'x' })).rejects.toThrow(TypeError);
      expect(calls).toBe(1);
    });

    it('retries a POST without a key when the connection was refused before anything was sent', async () => {
      vi.useFakeTimers();
      const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
      const reset = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } });
      let calls = 0;
      const flaky = retry({ random: () => 0, budget: false }).wrap(async () => {
        calls++;
        if (calls === 1) throw refused;
        if (calls === 2) throw reset; // dropped mid-flight: must not be sent again
        return new Response('created', { status: 201 });
      });
      const pending = settle(flaky(URL_A, { method: 'POST', body: 'x' }));
      await vi.advanceTimersByTimeAsync(1_000);
      expect((await pending).error).toBe(reset);
      expect(calls).toBe(2);
    });

    it('retries a PATCH that carries an Idempotency-Key, sending the same key and body each time', async () => {
      vi.useFakeTimers();
      const seen = sequence([503, 502, 200]);
      const pending = retrying()(URL_A, { method: 'PATCH', body: 'payload', headers: { 'Idempotency-Key': 'k-1' } });
      await vi.advanceTimersByTimeAsync(2_000);
      expect((await pending).status).toBe(200);
      expect(seen).toHaveLength(3);
      expect(seen.map((r) => r.headers.get('idempotency-key'))).toEqual(['k-1', 'k-1', 'k-1']);
      expect(await Promise.all(seen.map((r) => r.text()))).toEqual(['payload', 'payload', 'payload']);
    });

    it('generates a key for a POST when asked, identical on every attempt', async () => {
      vi.useFakeTimers();
      const seen = sequence([500, 200]);
      const pending = retrying({ generateIdempotencyKey: true })(URL_A, { method: 'POST', body: '{}' });
      await vi.advanceTimersByTimeAsync(1_000);
      expect((await pending).status).toBe(200);
      const keys = seen.map((r) => r.headers.get('idempotency-key'));
      expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(keys[1]).toBe(keys[0]);
    });

    it('re-sends a Request input with its body on each attempt', async () => {
      vi.useFakeTimers();
      const seen = sequence([503, 200]);
      const req = new Request(URL_A, { method: 'PUT', body: 'whole body' });
      const pending = retrying()(req);
      await vi.advanceTimersByTimeAsync(1_000);
      expect((await pending).status).toBe(200);
      expect(await Promise.all(seen.map((r) => r.text()))).toEqual(['whole body', 'whole body']);
    });
  });

  it('lets a classifier read the body and decide, without consuming the caller’s copy', async () => {
    vi.useFakeTimers();
    let i = 0;
    server.use(
      http.get(URL_A, () =>
        HttpResponse.json(i++ === 0 ? { status: 'OVER_QUERY_LIMIT' } : { status: 'OK' }, { status: 200 }),
      ),
    );
    const f = retrying({
      shouldRetry: async (ctx) => {
        const body = (await ctx.response?.json()) as { status: string };
        return body.status === 'OVER_QUERY_LIMIT';
      },
    });
    const pending = f(URL_A);
    await vi.advanceTimersByTimeAsync(1_000);
    const res = await pending;
    expect(await res.json()).toEqual({ status: 'OK' });
    expect(i).toBe(2);
  });

  it('lets a classifier veto a default retry', async () => {
    const seen = sequence([503, 200]);
    const res = await retrying({ shouldRetry: (ctx) => (ctx.status === 503 ? false : undefined) })(URL_A);
    expect(res.status).toBe(503);
    expect(seen).toHaveLength(1);
  });

  it('stops at once when the caller aborts during a backoff', async () => {
    vi.useFakeTimers();
    const seen = sequence([503, 200]);
    const controller = new AbortController();
    const pending = settle(retrying({ baseDelayMs: 10_000, maxDelayMs: 10_000 })(URL_A, { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(100);
    controller.abort(new Error('user left'));
    const { error } = await pending;
    expect((error as Error).message).toBe('user left');
    await vi.advanceTimersByTimeAsync(20_000);
    expect(seen).toHaveLength(1);
  });

  it('stops a retry storm with the retry budget', async () => {
    vi.useFakeTimers();
    let calls = 0;
    server.use(
      http.get(URL_A, () => {
        calls++;
        return new HttpResponse(null, { status: 503 });
      }),
    );
    const budget = retryBudget({ ratio: 0.1, minPerSecond: 0, maxTokens: 5 });
    const rec = recorder();
    const f = retry({ attempts: 5, budget, onEvent: rec.onEvent, random: () => 0 }).wrap((i, n) => fetch(i, n));
    const results = Promise.all(Array.from({ length: 100 }, () => settle(f(URL_A))));
    await vi.advanceTimersByTimeAsync(60_000);
    const outcomes = await results;
    // without a budget: 100 x 5 = 500 calls; with it: 100 first attempts + 5 burst + 100 x 0.1 earned
    expect(calls).toBeLessThanOrEqual(100 + 5 + 10);
    const exhausted = outcomes.filter(
      (o) => (o.error as ResilienceError | undefined)?.code === 'retry_budget_exhausted',
    );
    expect(exhausted.length).toBeGreaterThan(80);
    expect((exhausted[0]?.error as ResilienceError | undefined)?.response?.status).toBe(503);
    expect(rec.events.some((e) => e.type === 'retry.give_up' && e.reason === 'retry_budget_exhausted')).toBe(true);
  });

  it.each([
    [{ attempts: 0 }, 'attempts'],
    [{ attempts: 2.5 }, 'attempts'],
    [{ baseDelayMs: -1 }, 'baseDelayMs'],
    [{ baseDelayMs: 1_000, maxDelayMs: 10 }, 'maxDelayMs'],
    [{ statuses: [99] }, 'statuses'],
    [{ shouldRetry: 'yes' }, 'shouldRetry'],
    [{ idempotencyHeader: '' }, 'idempotencyHeader'],
    [{ maxRetryAfterMs: Number.NaN }, 'maxRetryAfterMs'],
    [{ idempotentMethods: 'GET' }, 'idempotentMethods'],
    [{ generateIdempotencyKey: 'yes' }, 'generateIdempotencyKey'],
    [{ budget: 5 }, 'budget'],
    [{ budget: { ratio: -1 } }, 'ratio'],
    [{ random: 0.5 }, 'random'],
    [3, 'options'],
  ])('rejects bad options %j with invalid_options', (options, field) => {
    let error: unknown;
    try {
      retry(options as never);
    } catch (e) {
      error = e;
    }
    expect((error as ResilienceError).code).toBe('invalid_options');
    expect((error as Error).message).toContain(field);
  });
});
