import { HttpResponse, http } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { secret } from '../vault/secret';
import { cacheStatus } from './cache';
import { type CircuitBreakers, circuitBreaker } from './circuit-breaker';
import type { ResilienceError } from './errors';
import { rateLimiter } from './rate-limit/local';
import { resilientFetch } from './resilient-fetch';
import { recorder, settle, useMsw } from './test-support';
import { timeout } from './timeout';
import type { RateLimiter, ScheduleOptions } from './types';

const server = useMsw();
const URL_A = 'https://layers.test/v1/orders';

/** A limiter that records every schedule and observe call, in order, into `log`. */
function spyLimiter(log: string[]): RateLimiter & { scheduled: ScheduleOptions[] } {
  const scheduled: ScheduleOptions[] = [];
  return {
    scheduled,
    schedule(fn, options = {}) {
      scheduled.push(options);
      log.push('limiter');
      return fn(options.signal);
    },
    observe(response, key) {
      log.push(`observe ${response.status} ${key}`);
    },
  };
}

describe('resilientFetch', () => {
  it('sends every retry through the breaker and the limiter again, in that order', async () => {
    vi.useFakeTimers();
    const log: string[] = [];
    let n = 0;
    server.use(
      http.get(URL_A, () => {
        log.push('fetch');
        return new HttpResponse(null, { status: n++ < 2 ? 503 : 200 });
      }),
    );
    const limiter = spyLimiter(log);
    const breakers = circuitBreaker({ failureThreshold: 10 });
    const counting: CircuitBreakers = {
      ...breakers,
      size: 0,
      acquire(key, emit) {
        log.push(`breaker ${key}`);
        return breakers.acquire(key, emit);
      },
    };
    const rec = recorder();
    const f = resilientFetch({ limiter, breaker: counting, retry: { random: () => 0 }, onEvent: rec.onEvent });
    const pending = f(URL_A);
    await vi.advanceTimersByTimeAsync(10);
    expect((await pending).status).toBe(200);
    const one = ['breaker layers.test', 'limiter', 'fetch'];
    expect(log).toEqual([
      ...one,
      'observe 503 layers.test',
      ...one,
      'observe 503 layers.test',
      ...one,
      'observe 200 layers.test',
    ]);
    expect(limiter.scheduled.every((o) => o.key === 'layers.test')).toBe(true);
    expect(breakers.health()[0]?.consecutiveFailures).toBe(0);
    expect(rec.types()).toEqual(['retry', 'retry']);
    breakers.close();
  });

  it('times out a slow attempt, counts it against the breaker, and retries it', async () => {
    vi.useFakeTimers();
    let n = 0;
    server.use(
      http.get(URL_A, async () => {
        if (n++ === 0) await new Promise((r) => setTimeout(r, 5_000));
        return HttpResponse.text('ok');
      }),
    );
    const rec = recorder();
    const breakers = circuitBreaker();
    const f = resilientFetch({ timeoutMs: 1_000, breaker: breakers, retry: { random: () => 0 }, onEvent: rec.onEvent });
    const pending = f(URL_A);
    await vi.advanceTimersByTimeAsync(1_000);
    await vi.advanceTimersByTimeAsync(10);
    expect(await (await pending).text()).toBe('ok');
    expect(rec.events[0]).toMatchObject({ type: 'timeout', scope: 'attempt', limitMs: 1_000 });
    expect(rec.events[1]).toMatchObject({ type: 'retry', attempt: 1 });
    expect(rec.events[1] && 'error' in rec.events[1] && (rec.events[1].error as ResilienceError).code).toBe('timeout');
    breakers.close();
  });

  it('gives up with deadline_exceeded when the overall deadline passes mid-attempt', async () => {
    vi.useFakeTimers();
    server.use(
      http.get(URL_A, async () => {
        await new Promise((r) => setTimeout(r, 60_000));
        return HttpResponse.text('late');
      }),
    );
    const f = resilientFetch({ deadlineMs: 2_500, timeoutMs: 1_000, breaker: false, retry: { random: () => 0 } });
    const pending = settle(f(URL_A));
    await vi.advanceTimersByTimeAsync(3_000);
    const { error } = await pending;
    expect((error as ResilienceError).code).toBe('deadline_exceeded');
  });

  it('pulls a call out of the limiter queue when the deadline passes', async () => {
    vi.useFakeTimers();
    const stuck: RateLimiter = {
      schedule: (_fn, options) =>
        new Promise((_, reject) => options?.signal?.addEventListener('abort', () => reject(options.signal?.reason))),
    };
    const f = resilientFetch({ deadlineMs: 1_000, limiter: stuck, fetch: async () => new Response('never') });
    const pending = settle(f(URL_A));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(((await pending).error as ResilienceError).code).toBe('deadline_exceeded');
  });

  it('with the real rateLimiter: a queued call fails with deadline_exceeded, the caller’s abort with its reason', async () => {
    vi.useFakeTimers();
    const limiter = rateLimiter({ limit: 1, interval: 60_000 });
    const f = resilientFetch({ deadlineMs: 1_000, limiter, breaker: false, fetch: async () => new Response('ok') });
    expect((await f(URL_A)).status).toBe(200); // takes the only slot, at once
    const queued = settle(f(URL_A));
    const controller = new AbortController();
    const cancelled = settle(f(URL_A, { signal: controller.signal }));
    controller.abort(new Error('user left'));
    await vi.advanceTimersByTimeAsync(1_000);
    // attempts 0 tells a caller that nothing went out
    expect((await queued).error).toMatchObject({ code: 'deadline_exceeded', attempts: 0, waitMs: 1_000 });
    expect(((await cancelled).error as Error).message).toBe('user left');
  });

  it('a retry that waits in the limiter past the deadline reports the attempts that went out', async () => {
    vi.useFakeTimers();
    let sent = 0;
    const limiter = rateLimiter({ limit: 1, interval: 60_000 });
    const f = resilientFetch({
      deadlineMs: 1_000,
      limiter,
      breaker: false,
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1, budget: false },
      fetch: async () => {
        sent++;
        return new Response('busy', { status: 503 });
      },
    });
    const pending = settle(f(URL_A));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sent).toBe(1);
    expect((await pending).error).toMatchObject({ code: 'deadline_exceeded', attempts: 1 });
  });

  describe('a fetch or a limiter that ignores its signal cannot hold the call', () => {
    /** A fetch that never answers and never looks at its signal; resolves `late` on demand. */
    function deafFetch() {
      let answer: (response: Response) => void = () => {};
      const fetch = () =>
        new Promise<Response>((resolve) => {
          answer = resolve;
        });
      return { fetch, answerLate: (response: Response) => answer(response) };
    }

    it('fails with timeout when the attempt limit passes, and cancels the body of an answer that comes later', async () => {
      vi.useFakeTimers();
      const deaf = deafFetch();
      const f = resilientFetch({ fetch: deaf.fetch, timeoutMs: 500, retry: { attempts: 1 }, breaker: false });
      const pending = settle(f(URL_A));
      await vi.advanceTimersByTimeAsync(500);
      expect((await pending).error).toMatchObject({ code: 'timeout' });
      let cancelled = false;
      const body = new ReadableStream({
        cancel: () => {
          cancelled = true;
        },
      });
      deaf.answerLate(new Response(body));
      await vi.advanceTimersByTimeAsync(0);
      expect(cancelled).toBe(true);
    });

    it('fails with deadline_exceeded at the deadline, and with the caller’s reason when the caller aborts (no limits at all)', async () => {
      vi.useFakeTimers();
      const timed = resilientFetch({ fetch: deafFetch().fetch, timeoutMs: false, deadlineMs: 800, breaker: false });
      const late = settle(timed(URL_A));
      await vi.advanceTimersByTimeAsync(800);
      expect((await late).error).toMatchObject({ code: 'deadline_exceeded' });

      const unlimited = resilientFetch({ fetch: deafFetch().fetch, timeoutMs: false, breaker: false });
      const controller = new AbortController();
      const left = settle(unlimited(URL_A, { signal: controller.signal }));
      controller.abort(new Error('user left'));
      await vi.advanceTimersByTimeAsync(0);
      expect(((await left).error as Error).message).toBe('user left');
    });

    it('pulls a call out of a limiter that ignores its signal, and sends nothing when that limiter starts it later', async () => {
      vi.useFakeTimers();
      const starts: Array<() => unknown> = [];
      const deafLimiter: RateLimiter = {
        schedule: <T>(fn: () => Promise<T>) =>
          new Promise<T>((resolve, reject) => {
            starts.push(() => fn().then(resolve, reject));
          }),
      };
      let sent = 0;
      const fetch = async () => {
        sent++;
        return new Response('ok');
      };
      const f = resilientFetch({ fetch, limiter: deafLimiter, deadlineMs: 1_000, breaker: false });
      const byDeadline = settle(f(URL_A));
      const controller = new AbortController();
      const unbounded = resilientFetch({ fetch, limiter: deafLimiter, timeoutMs: false, breaker: false });
      const byCaller = settle(unbounded(URL_A, { signal: controller.signal }));
      controller.abort(new Error('user left'));
      await vi.advanceTimersByTimeAsync(1_000);
      expect((await byDeadline).error).toMatchObject({ code: 'deadline_exceeded', attempts: 0 });
      expect(((await byCaller).error as Error).message).toBe('user left');
      // the limiter lets both go now: neither call may send anything
      for (const start of starts) start();
      await vi.advanceTimersByTimeAsync(0);
      expect(sent).toBe(0);
    });

    it('timeout(ms).execute settles on time whatever the function does', async () => {
      vi.useFakeTimers();
      const pending = settle(timeout(300).execute(() => new Promise<never>(() => {})));
      await vi.advanceTimersByTimeAsync(300);
      expect((await pending).error).toMatchObject({ code: 'timeout' });
    });
  });

  it('reveals a vault Secret only into the outgoing header', async () => {
    let seen: string | null = null;
    server.use(
      http.get(URL_A, ({ request }) => {
        seen = request.headers.get('authorization');
        return HttpResponse.text('ok');
      }),
    );
    const token = secret('tok_live_123');
    const f = resilientFetch({ headers: { authorization: () => `Bearer ${token.reveal()}`, 'x-api-key': token } });
    await f(URL_A, { headers: { accept: 'application/json' } });
    expect(seen).toBe('Bearer tok_live_123');
    expect(JSON.stringify({ token })).not.toContain('tok_live_123');
  });

  it('serves stale through every layer when the provider goes down', async () => {
    let up = true;
    server.use(http.get(URL_A, () => (up ? HttpResponse.json({ n: 1 }) : new HttpResponse(null, { status: 503 }))));
    const rec = recorder();
    const f = resilientFetch({ cache: {}, retry: { attempts: 1 }, onEvent: rec.onEvent });
    await (await f(URL_A)).json();
    await vi.waitFor(async () => {
      up = false;
      const res = await f(URL_A);
      expect(cacheStatus(res)).toBe('stale');
    });
    expect(rec.types()).toContain('cache.stale');
  });

  it('rejects an input that is not a URL string, a URL or a Request with invalid_request', async () => {
    const f = resilientFetch({ fetch: async () => new Response('never') });
    for (const bad of [undefined, null, 42, {}]) {
      const { error } = await settle(f(bad as never));
      expect((error as ResilienceError).code).toBe('invalid_request');
    }
  });

  it.each([
    [{ fetch: 'x' }, 'fetch'],
    [{ timeoutMs: 0 }, 'timeoutMs'],
    [{ deadlineMs: -5 }, 'deadlineMs'],
    [{ retry: 3 }, 'retry'],
    [{ breaker: 'on' }, 'breaker'],
    [{ cache: 'yes' }, 'cache'],
    [{ limiter: {} }, 'limiter'],
    [{ key: 1 }, 'key'],
    [{ headers: { authorization: 42 } }, 'authorization'],
    [{ headers: 'x' }, 'headers'],
  ])('rejects a bad policy %j with invalid_options', (options, field) => {
    expect(() => resilientFetch(options as never)).toThrow(expect.objectContaining({ code: 'invalid_options' }));
    expect(() => resilientFetch(options as never)).toThrow(new RegExp(field));
  });
});
