import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { sharedCircuitBreakers } from './circuit-breaker';
import type { ResilienceError } from './errors';
import { redactUrl } from './internal';
import { resilientFetch } from './resilient-fetch';
import { sharedRetryBudget } from './retry-budget';
import { recorder, settle, thrownBy } from './test-support';
import type { RetryEvent } from './types';

/** What users of cockatiel, ky and Polly expect of each call: per-call policy, shared defaults, events that identify it, hooks. */

/** A fetch stub answering `status(n)` for the n-th call (1-based), recording what it was given. */
function stub(status: (n: number) => number) {
  const seen: Array<{ init: RequestInit | undefined; authorization: string | null }> = [];
  const fetch = async (_input: string | URL | Request, init?: RequestInit) => {
    seen.push({ init, authorization: new Headers(init?.headers).get('authorization') });
    return new Response(null, { status: status(seen.length) });
  };
  return { seen, fetch };
}

describe('resilientFetch per call', () => {
  it('takes a per-call deadline, timeout and attempts from init.policy, and never forwards it', async () => {
    vi.useFakeTimers();
    const provider = stub(() => 503);
    const f = resilientFetch({ fetch: provider.fetch, breaker: false, retry: { random: () => 0, budget: false } });
    expect((await f('https://a.test/x', { policy: { attempts: 1 } })).status).toBe(503);
    expect(provider.seen).toHaveLength(1);
    expect(provider.seen[0]?.init).not.toHaveProperty('policy');

    const slow = resilientFetch({
      fetch: (_i, init) =>
        new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason))),
      breaker: false,
      retry: false,
    });
    const late = settle(slow('https://a.test/x', { policy: { deadlineMs: 200 } }));
    const timed = settle(slow('https://a.test/x', { policy: { timeoutMs: 100 } }));
    await vi.advanceTimersByTimeAsync(200);
    expect(((await late).error as ResilienceError).code).toBe('deadline_exceeded');
    expect(((await timed).error as ResilienceError).code).toBe('timeout');
    vi.useRealTimers();
  });

  it('rejects a bad per-call policy with invalid_options', async () => {
    const f = resilientFetch({ fetch: async () => new Response('ok') });
    for (const policy of [{ attempts: 0 }, { attempts: 1.5 }, { deadlineMs: -1 }, { timeoutMs: 'soon' }, 'fast']) {
      const { error } = await settle(f('https://a.test/x', { policy: policy as never }));
      expect((error as ResilienceError).code).toBe('invalid_options');
      expect((error as Error).message).toMatch(/^\[@ballast\/core\] \[resilientFetch\] \[policy\]/);
    }
  });

  it('shares one breaker registry and one retry budget between fetches by default', async () => {
    // the budget refills with the clock (minPerSecond): a slow machine between the last retry and the
    // next call would earn the token back, so the clock stands still for this test
    vi.useFakeTimers({ toFake: ['Date'] });
    onTestFinished(() => void vi.useRealTimers());
    const host = 'shared-defaults.test';
    const first = resilientFetch({ fetch: async () => new Response(null, { status: 503 }), retry: false });
    const second = resilientFetch({ fetch: async () => new Response('ok'), retry: false });
    for (let i = 0; i < 5; i++) await first(`https://${host}/x`);
    expect(sharedCircuitBreakers().state(host)).toBe('open');
    expect(((await settle(second(`https://${host}/x`))).error as ResilienceError).code).toBe('circuit_open');
    sharedCircuitBreakers().reset(host);
    expect((await second(`https://${host}/x`)).status).toBe(200);

    const budgetHost = 'shared-budget.test';
    const retrying = resilientFetch({
      fetch: async () => new Response(null, { status: 503 }),
      breaker: false,
      retry: { random: () => 0, attempts: 2 },
    });
    const other = resilientFetch({
      fetch: async () => new Response(null, { status: 503 }),
      breaker: false,
      retry: { random: () => 0, attempts: 2 },
    });
    // each call earns 0.2 (its first attempt, up to the cap of 10) and spends 1 (its retry) from one bucket
    expect(sharedRetryBudget().tokens(budgetHost)).toBe(10);
    expect((await retrying(`https://${budgetHost}/x`)).status).toBe(503);
    expect(sharedRetryBudget().tokens(budgetHost)).toBeCloseTo(9, 6);
    expect((await other(`https://${budgetHost}/x`)).status).toBe(503);
    expect(sharedRetryBudget().tokens(budgetHost)).toBeCloseTo(8.2, 6);
  });

  it('events identify the call: id, method, URL without secrets, attempt and the caller’s context', async () => {
    const rec = recorder();
    const f = resilientFetch({
      fetch: stub((n) => (n === 1 ? 503 : 200)).fetch,
      breaker: false,
      retry: { random: () => 0, budget: false },
      onEvent: rec.onEvent,
    });
    await f('https://user:pw@api.test/v1/items?id=7&api_key=k1&X-Amz-Signature=abc&token=t', {
      method: 'PUT',
      policy: { context: { tenant: 'acme' } },
    });
    const retryEvent = rec.events[0] as RetryEvent;
    expect(retryEvent).toMatchObject({
      type: 'retry',
      method: 'PUT',
      url: 'https://api.test/v1/items?id=7&api_key=redacted&X-Amz-Signature=redacted&token=redacted',
      attempt: 1,
      context: { tenant: 'acme' },
    });
    expect(retryEvent.callId).toMatch(/^call-\d+$/);
    expect(redactUrl('not a url?token=x')).toBe('not a url');
  });

  it('afterResponse refreshes an OAuth token once on a 401 and retries with the new header', async () => {
    let token = 'old';
    const provider = stub((n) => (n === 1 ? 401 : 200));
    const f = resilientFetch({
      fetch: provider.fetch,
      breaker: false,
      headers: { authorization: () => `Bearer ${token}` },
      async afterResponse(response, ctx) {
        if (response.status === 401 && ctx.attempt === 1) {
          token = 'fresh';
          return 'retry';
        }
        return undefined;
      },
    });
    const res = await f('https://oauth.test/v1/me', { method: 'POST', body: '{}' });
    expect(res.status).toBe(200);
    expect(provider.seen.map((s) => s.authorization)).toEqual(['Bearer old', 'Bearer fresh']);
  });

  it('beforeRetry sees the next attempt and may change its headers', async () => {
    const provider = stub((n) => (n === 1 ? 503 : 200));
    const seen: number[] = [];
    const f = resilientFetch({
      fetch: provider.fetch,
      breaker: false,
      retry: { random: () => 0, budget: false },
      beforeRetry(ctx) {
        seen.push(ctx.attempt);
        ctx.headers.set('authorization', `Bearer retry-${ctx.attempt}`);
      },
    });
    expect((await f('https://hooks.test/x')).status).toBe(200);
    expect(seen).toEqual([2]);
    expect(provider.seen.map((s) => s.authorization)).toEqual([null, 'Bearer retry-2']);
  });

  it.each([
    [{ classify: 'google' }, 'classify'],
    [{ afterResponse: 1 }, 'afterResponse'],
    [{ beforeRetry: {} }, 'beforeRetry'],
  ])('rejects a bad hook %j with invalid_options', (options, field) => {
    const error = thrownBy(() => resilientFetch(options as never)) as ResilienceError;
    expect(error.code).toBe('invalid_options');
    expect(error.message).toContain(field);
  });
});
