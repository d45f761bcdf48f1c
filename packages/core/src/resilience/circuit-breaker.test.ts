import { HttpResponse, http } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { BallastError } from '../errors';
import { circuitBreaker } from './circuit-breaker';
import { ResilienceError } from './errors';
import { resilientFetch } from './resilient-fetch';
import { recorder, settle, useMsw } from './test-support';

const server = useMsw();
const URL_A = 'https://provider.test/v1/things';
const URL_B = 'https://other.test/v1/things';

/** A provider that answers `status()` and counts calls. */
function provider(url: string, status: () => number) {
  const hits = { count: 0 };
  server.use(
    http.all(url, () => {
      hits.count++;
      const s = status();
      return new HttpResponse(s < 400 ? 'ok' : 'down', { status: s });
    }),
  );
  return hits;
}

describe('circuitBreaker', () => {
  it('opens after N consecutive 503s, fails fast while open, and one successful probe closes it', async () => {
    vi.useFakeTimers();
    let status = 503;
    const hits = provider(URL_A, () => status);
    const rec = recorder();
    const breakers = circuitBreaker({ failureThreshold: 3, cooldownMs: 10_000, onEvent: rec.onEvent });
    const f = resilientFetch({ retry: false, breaker: breakers });

    for (let i = 0; i < 2; i++) expect((await f(URL_A)).status).toBe(503);
    expect(breakers.state('provider.test')).toBe('closed');
    expect((await f(URL_A)).status).toBe(503); // the third in a row opens it
    expect(breakers.state('provider.test')).toBe('open');
    expect(hits.count).toBe(3);

    // open: fails fast, the provider sees nothing
    const { error } = await settle(f(URL_A));
    expect((error as ResilienceError).code).toBe('circuit_open');
    expect((error as ResilienceError).waitMs).toBe(10_000);
    expect(hits.count).toBe(3);

    await vi.advanceTimersByTimeAsync(10_000);
    expect(breakers.state('provider.test')).toBe('half_open');
    status = 200;
    expect((await f(URL_A)).status).toBe(200); // the probe
    expect(breakers.state('provider.test')).toBe('closed');
    expect(hits.count).toBe(4);
    expect(rec.types()).toEqual(['breaker.open', 'breaker.reject', 'breaker.half_open', 'breaker.close']);
    breakers.close();
  });

  it('never opens on the first failure: a threshold below 2 is refused', () => {
    expect(() => circuitBreaker({ failureThreshold: 1 })).toThrow(/failureThreshold/);
    expect(() => circuitBreaker({ minimumVolume: 1 })).toThrow(/minimumVolume/);
  });

  it('does not count 4xx answers against the provider', async () => {
    const hits = provider(URL_A, () => 404);
    const breakers = circuitBreaker({ failureThreshold: 2 });
    const f = resilientFetch({ retry: false, breaker: breakers });
    for (let i = 0; i < 10; i++) expect((await f(URL_A)).status).toBe(404);
    expect(breakers.state('provider.test')).toBe('closed');
    expect(hits.count).toBe(10);
    breakers.close();
  });

  it('counts network errors, and a success in between resets the run', async () => {
    let mode: 'error' | 'ok' = 'error';
    server.use(http.get(URL_A, () => (mode === 'error' ? HttpResponse.error() : HttpResponse.text('ok'))));
    const breakers = circuitBreaker({ failureThreshold: 3 });
    const f = resilientFetch({ retry: false, breaker: breakers });
    await settle(f(URL_A));
    await settle(f(URL_A));
    mode = 'ok';
    await f(URL_A);
    mode = 'error';
    await settle(f(URL_A));
    await settle(f(URL_A));
    expect(breakers.state('provider.test')).toBe('closed');
    await settle(f(URL_A));
    expect(breakers.state('provider.test')).toBe('open');
    breakers.close();
  });

  it('opens on a rolling error rate once the minimum volume is reached', async () => {
    let n = 0;
    provider(URL_A, () => (n++ % 2 === 0 ? 500 : 200)); // alternate: never 2 failures in a row
    const breakers = circuitBreaker({ failureThreshold: 100, errorRate: 0.4, minimumVolume: 10 });
    const f = resilientFetch({ retry: false, breaker: breakers });
    for (let i = 0; i < 9; i++) await f(URL_A);
    expect(breakers.state('provider.test')).toBe('closed'); // below the volume
    for (let i = 0; i < 3; i++) await settle(f(URL_A));
    expect(breakers.state('provider.test')).toBe('open');
    breakers.close();
  });

  it('re-opens when the probe fails, and lets only one probe through at a time', async () => {
    vi.useFakeTimers();
    let release: (() => void) | undefined;
    let status = 503;
    let hits = 0;
    server.use(
      http.get(URL_A, async () => {
        hits++;
        if (release === undefined && status === 200) await new Promise<void>((r) => (release = r));
        return new HttpResponse(null, { status });
      }),
    );
    const breakers = circuitBreaker({ failureThreshold: 2, cooldownMs: 1_000 });
    const f = resilientFetch({ retry: false, breaker: breakers, timeoutMs: false });
    await f(URL_A);
    await f(URL_A);
    expect(breakers.state('provider.test')).toBe('open');
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await f(URL_A)).status).toBe(503); // probe fails
    expect(breakers.state('provider.test')).toBe('open');
    await vi.advanceTimersByTimeAsync(2_000); // the break doubled after the failed probe
    status = 200;
    const probe = f(URL_A);
    await vi.waitFor(() => expect(release).toBeDefined());
    const second = await settle(f(URL_A)); // while the probe is in flight
    expect((second.error as ResilienceError).code).toBe('circuit_open');
    release?.();
    expect((await probe).status).toBe(200);
    expect(breakers.state('provider.test')).toBe('closed');
    expect(hits).toBe(4);
    breakers.close();
  });

  it('neither closes nor opens when the caller aborts the probe: the slot goes to the next probe', async () => {
    vi.useFakeTimers();
    let status = 503;
    server.use(
      http.get(URL_A, async () => {
        if (status === 200) await new Promise((r) => setTimeout(r, 1_000));
        return new HttpResponse(null, { status });
      }),
    );
    const breakers = circuitBreaker({ failureThreshold: 2, cooldownMs: 1_000 });
    const f = resilientFetch({ retry: false, breaker: breakers, timeoutMs: false });
    await f(URL_A);
    await f(URL_A);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(breakers.state('provider.test')).toBe('half_open');
    status = 200;
    const controller = new AbortController();
    const probe = settle(f(URL_A, { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(10);
    controller.abort();
    expect(((await probe).error as Error).name).toBe('AbortError');
    expect(breakers.state('provider.test')).toBe('half_open');
    const next = f(URL_A); // admitted as the new probe, not refused
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await next).status).toBe(200);
    expect(breakers.state('provider.test')).toBe('closed');
    breakers.close();
  });

  it('keeps one breaker per host (or per key function)', async () => {
    vi.useFakeTimers();
    provider(URL_A, () => 503);
    const healthy = provider(URL_B, () => 200);
    const breakers = circuitBreaker({ failureThreshold: 2 });
    const f = resilientFetch({ retry: false, breaker: breakers });
    await f(URL_A);
    await f(URL_A);
    expect((await f(URL_B)).status).toBe(200);
    expect(breakers.health()).toEqual([
      { key: 'provider.test', state: 'open', consecutiveFailures: 2, retryInMs: 30_000 },
      { key: 'other.test', state: 'closed', consecutiveFailures: 0, retryInMs: 0 },
    ]);
    expect(healthy.count).toBe(1);

    const grouped = resilientFetch({ retry: false, breaker: breakers, key: () => 'all-providers' });
    await grouped(URL_A);
    expect(breakers.state('all-providers')).toBe('closed');
    breakers.close();
  });

  it('drops idle breakers and holds no timers at all', async () => {
    vi.useFakeTimers();
    provider(URL_A, () => 200);
    provider(URL_B, () => 200);
    const breakers = circuitBreaker({ idleMs: 5_000, windowMs: 1_000 });
    const f = resilientFetch({ retry: false, breaker: breakers, timeoutMs: false });
    await f(URL_A);
    await f(URL_B);
    expect(breakers.size).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(6_000);
    expect(breakers.size).toBe(0);
    await f(URL_A); // comes back on demand
    expect(breakers.size).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    breakers.close();
  });

  it('aborts only the call whose signal fired, and does not count the abort', async () => {
    vi.useFakeTimers();
    server.use(
      http.get(URL_A, async () => {
        await new Promise((r) => setTimeout(r, 100));
        return HttpResponse.text('ok');
      }),
    );
    const breakers = circuitBreaker({ failureThreshold: 2 });
    const f = resilientFetch({ retry: false, breaker: breakers, timeoutMs: false });
    const controller = new AbortController();
    const aborted = settle(f(URL_A, { signal: controller.signal }));
    const aborted2 = settle(f(URL_A, { signal: AbortSignal.abort() }));
    const other = f(URL_A);
    controller.abort();
    await vi.advanceTimersByTimeAsync(100);
    expect(((await aborted).error as Error).name).toBe('AbortError');
    expect(((await aborted2).error as Error).name).toBe('AbortError');
    expect(await (await other).text()).toBe('ok');
    expect(breakers.health()[0]?.consecutiveFailures).toBe(0);
    expect(breakers.state('provider.test')).toBe('closed');
    breakers.close();
  });

  it('does not count another layer’s refusal (a full limiter queue, a deadline) against the provider', async () => {
    const breakers = circuitBreaker({ failureThreshold: 2 });
    const refusal = () => Promise.reject(new BallastError('@ballast/core] [rateLimiter', 'queue_full', 'full'));
    const deadline = () => Promise.reject(new ResilienceError('deadline', 'deadline_exceeded', 'late'));
    for (let i = 0; i < 3; i++) {
      await settle(breakers.execute('k', refusal));
      await settle(breakers.execute('k', deadline));
    }
    expect(breakers.state('k')).toBe('closed');
    const timedOut = () => Promise.reject(new ResilienceError('timeout', 'timeout', 'slow'));
    await settle(breakers.execute('k', timedOut));
    await settle(breakers.execute('k', timedOut));
    expect(breakers.state('k')).toBe('open');
    breakers.close();
  });

  it('runs any async function on its own, counting only what classify says', async () => {
    const breakers = circuitBreaker({
      failureThreshold: 2,
      classify: (o) => (o.error instanceof RangeError ? 'failure' : 'success'),
    });
    const boom = () => Promise.reject(new TypeError('not counted'));
    await settle(breakers.execute('k', boom));
    await settle(breakers.execute('k', boom));
    expect(breakers.state('k')).toBe('closed');
    const count = () => Promise.reject(new RangeError('counted'));
    await settle(breakers.execute('k', count));
    await settle(breakers.execute('k', count));
    expect(breakers.state('k')).toBe('open');
    expect(await settle(breakers.execute('other', async () => 42))).toEqual({ value: 42 });
    breakers.close();
  });

  it.each([
    [{ errorRate: 0 }, 'errorRate'],
    [{ errorRate: 1.5 }, 'errorRate'],
    [{ cooldownMs: 0 }, 'cooldownMs'],
    [{ windowMs: 5 }, 'windowMs'],
    [{ classify: 1 }, 'classify'],
    [{ cooldownMs: 10_000, maxCooldownMs: 5_000 }, 'maxCooldownMs'],
    [{ probeTimeoutMs: 0 }, 'probeTimeoutMs'],
    [{ idleMs: -1 }, 'idleMs'],
    ['fast', 'options'],
    [[], 'options'],
  ])('rejects bad options %j with invalid_options', (options, field) => {
    expect(() => circuitBreaker(options as never)).toThrow(expect.objectContaining({ code: 'invalid_options' }));
    expect(() => circuitBreaker(options as never)).toThrow(new RegExp(field));
  });
});
