import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { rejection, settle, thrownBy } from '../test-support';
import type { ResilienceEvent } from '../types';
import { isRateLimitError, RateLimitError } from './errors';
import { adaptiveRateLimiter, rateLimiter } from './local';

/** A promise with its resolve handle, to hold a call "running" as long as a test wants. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 10, 27, 12, 0, 0) });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('rateLimiter: interval budget', () => {
  it('starts at most `limit` calls in any window of `interval`', async () => {
    const limiter = rateLimiter({ limit: 3, interval: 1000 });
    const t0 = Date.now();
    const starts: number[] = [];
    const done = Array.from({ length: 7 }, () => limiter.schedule(async () => starts.push(Date.now() - t0)));
    await vi.advanceTimersByTimeAsync(2500);
    await Promise.all(done);
    expect(starts).toEqual([0, 0, 0, 1000, 1000, 1000, 2000]);
  });

  it('is a sliding window: a grant counts for `interval` after it was made, not until a fixed boundary', async () => {
    const limiter = rateLimiter({ limit: 2, interval: 1000 });
    const t0 = Date.now();
    const starts: number[] = [];
    await limiter.schedule(async () => starts.push(Date.now() - t0));
    await vi.advanceTimersByTimeAsync(600);
    const rest = [1, 2, 3].map(() => limiter.schedule(async () => starts.push(Date.now() - t0)));
    await vi.advanceTimersByTimeAsync(2000);
    await Promise.all(rest);
    // 600: second slot; 1000: the first grant expires; 1600: the second one does
    expect(starts).toEqual([0, 600, 1000, 1600]);
  });

  it('holds a slot until the call settles: its window starts when the answer is back, not at the grant', async () => {
    // the provider counts a request when it arrives, somewhere between grant and answer
    const limiter = rateLimiter({ limit: 2, interval: 1000 });
    const t0 = Date.now();
    const starts: number[] = [];
    const slow = () => {
      starts.push(Date.now() - t0);
      return new Promise((resolve) => setTimeout(resolve, 300));
    };
    const calls = [limiter.schedule(slow), limiter.schedule(slow), limiter.schedule(slow)];
    await vi.advanceTimersByTimeAsync(200);
    expect(limiter.stats()).toMatchObject({ running: 2, queued: 1, used: 2 });
    await vi.advanceTimersByTimeAsync(1500);
    await Promise.all(calls);
    // settled at 300, so the slot frees at 1300 (counting from the grant would say 1000)
    expect(starts).toEqual([0, 0, 1300]);
  });

  it('with holdUntilSettled: false, a grant counts for `interval` from the grant', async () => {
    const limiter = rateLimiter({ limit: 1, interval: 1000, holdUntilSettled: false });
    const t0 = Date.now();
    const starts: number[] = [];
    const slow = () => {
      starts.push(Date.now() - t0);
      return new Promise((resolve) => setTimeout(resolve, 300));
    };
    const calls = [limiter.schedule(slow), limiter.schedule(slow)];
    await vi.advanceTimersByTimeAsync(1500);
    await Promise.all(calls);
    expect(starts).toEqual([0, 1000]);
  });

  it('never touches a timer while calls stay under the limit', async () => {
    const limiter = rateLimiter({ limit: 100, interval: 1000, concurrency: 10 });
    for (let i = 0; i < 50; i++) await limiter.schedule(async () => i);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('rateLimiter: concurrency', () => {
  it('runs at most `concurrency` calls at once and starts the next when one settles', async () => {
    const limiter = rateLimiter({ concurrency: 2 });
    const gates = [deferred(), deferred(), deferred()];
    let running = 0;
    let peak = 0;
    const calls = gates.map((gate) =>
      limiter.schedule(async () => {
        running++;
        peak = Math.max(peak, running);
        await gate.promise;
        running--;
      }),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(running).toBe(2);
    expect(limiter.stats()?.queued).toBe(1);
    gates[0]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(running).toBe(2);
    expect(limiter.stats()?.queued).toBe(0);
    gates[1]?.resolve();
    gates[2]?.resolve();
    await Promise.all(calls);
    expect(peak).toBe(2);
    expect(limiter.stats()?.running).toBe(0);
  });

  it('releases the slot when fn throws synchronously or rejects', async () => {
    const limiter = rateLimiter({ concurrency: 1 });
    await expect(
      limiter.schedule(() => {
        throw new Error('sync boom');
      }),
    ).rejects.toThrow('sync boom');
    await expect(limiter.schedule(async () => Promise.reject(new Error('async boom')))).rejects.toThrow('async boom');
    await expect(limiter.schedule(async () => 'after')).resolves.toBe('after');
    expect(limiter.stats()?.running).toBe(0);
  });
});

describe('rateLimiter: weight', () => {
  it('draws `weight` units from the budget', async () => {
    const limiter = rateLimiter({ limit: 10, interval: 1000 });
    const t0 = Date.now();
    const starts: Array<[string, number]> = [];
    const a = limiter.schedule(async () => starts.push(['a', Date.now() - t0]), { weight: 6 });
    const b = limiter.schedule(async () => starts.push(['b', Date.now() - t0]), { weight: 5 });
    const c = limiter.schedule(async () => starts.push(['c', Date.now() - t0]), { weight: 5 });
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all([a, b, c]);
    expect(starts).toEqual([
      ['a', 0],
      ['b', 1000],
      ['c', 1000],
    ]);
  });

  it('rejects a weight that could never fit the limit', async () => {
    const limiter = rateLimiter({ limit: 10, interval: 1000 });
    const error = await rejection(limiter.schedule(async () => 1, { weight: 11 }));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain('exceeds the limit');
  });
});

describe('rateLimiter: priority', () => {
  it('starts queued calls by priority, highest first, first-come first-served within one', async () => {
    const limiter = rateLimiter({ concurrency: 1 });
    const gate = deferred();
    const order: string[] = [];
    const first = limiter.schedule(() => gate.promise);
    const calls = [
      ['low-1', 0],
      ['high-1', 5],
      ['low-2', 0],
      ['high-2', 5],
      ['urgent', 9],
      ['negative', -1],
    ].map(([name, priority]) =>
      limiter.schedule(async () => order.push(name as string), { priority: priority as number }),
    );
    gate.resolve();
    await Promise.all([first, ...calls]);
    expect(order).toEqual(['urgent', 'high-1', 'high-2', 'low-1', 'low-2', 'negative']);
  });
});

describe('rateLimiter: abort', () => {
  it('an aborted queued call leaves the queue, rejects with `aborted`, never runs and holds no slot', async () => {
    const limiter = rateLimiter({ concurrency: 1, maxQueued: 1 });
    const gate = deferred();
    const first = limiter.schedule(() => gate.promise);
    const controller = new AbortController();
    const ran: string[] = [];
    const aborted = limiter.schedule(async () => ran.push('aborted'), { signal: controller.signal });
    controller.abort(new Error('user left'));
    const error = await rejection(aborted);
    expect(error.code).toBe('aborted');
    expect((error.cause as Error).message).toBe('user left');
    expect(limiter.stats()?.queued).toBe(0);
    // the freed queue place is usable at once (maxQueued is 1)
    const next = limiter.schedule(async () => ran.push('next'));
    gate.resolve();
    await Promise.all([first, next]);
    expect(ran).toEqual(['next']);
  });

  it('aborting the head of a rate-bound queue lets the next call through and leaves no timer behind', async () => {
    const limiter = rateLimiter({ limit: 1, interval: 1000 });
    await limiter.schedule(async () => 0);
    const controller = new AbortController();
    const aborted = limiter.schedule(async () => 1, { signal: controller.signal });
    expect(vi.getTimerCount()).toBe(1);
    controller.abort();
    expect((await rejection(aborted)).code).toBe('aborted');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const limiter = rateLimiter();
    const fn = vi.fn(async () => 1);
    const error = await rejection(limiter.schedule(fn, { signal: AbortSignal.abort() }));
    expect(error.code).toBe('aborted');
    expect(fn).not.toHaveBeenCalled();
  });

  it('hands the signal to fn, so a running call can be aborted by its owner', async () => {
    const limiter = rateLimiter();
    const controller = new AbortController();
    const seen = await limiter.schedule(async (signal) => signal, { signal: controller.signal });
    expect(seen).toBe(controller.signal);
  });
});

describe('rateLimiter: maxWait per call', () => {
  it('rejects at once with wait_too_long when the budget cannot start the call within its maxWait', async () => {
    const limiter = rateLimiter({ limit: 1, interval: 1000 });
    await limiter.schedule(async () => 0);
    let ran = false;
    const error = await rejection(
      limiter.schedule(
        async () => {
          ran = true;
        },
        { maxWait: 500 },
      ),
    );
    expect(error).toMatchObject({ code: 'wait_too_long', key: 'default', waitMs: 1000 });
    expect(error.message).toContain('more than its maxWait (500 ms)');
    expect(ran).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('maxWait 0 runs a call only if it can start now', async () => {
    const limiter = rateLimiter({ limit: 1, interval: 1000 });
    await expect(limiter.schedule(async () => 'now', { maxWait: 0 })).resolves.toBe('now');
    expect((await rejection(limiter.schedule(async () => 'later', { maxWait: 0 }))).code).toBe('wait_too_long');
    expect(limiter.stats()?.queued).toBe(0);
  });

  it('a call waiting for an unknown time (a running call) rejects when its maxWait passes; the queue moves on', async () => {
    const limiter = rateLimiter({ concurrency: 1 });
    const gate = deferred();
    const running = limiter.schedule(() => gate.promise);
    let ran = false;
    const bounded = settle(
      limiter.schedule(
        async () => {
          ran = true;
        },
        { maxWait: 200 },
      ),
    );
    const patient = limiter.schedule(async () => 'patient');
    await vi.advanceTimersByTimeAsync(199);
    expect(limiter.stats()?.queued).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    const { error } = await bounded;
    expect(isRateLimitError(error) && error.code).toBe('wait_too_long');
    expect(limiter.stats()?.queued).toBe(1);
    gate.resolve();
    await running;
    await expect(patient).resolves.toBe('patient');
    expect(ran).toBe(false);
  });

  it('a call that starts within its maxWait runs, and leaves no timer behind', async () => {
    const limiter = rateLimiter({ limit: 1, interval: 100 });
    await limiter.schedule(async () => 0);
    const t0 = Date.now();
    const call = limiter.schedule(async () => Date.now() - t0, { maxWait: 500 });
    await vi.advanceTimersByTimeAsync(100);
    await expect(call).resolves.toBe(100);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('rateLimiter: bounded queue', () => {
  it('rejects with `queue_full` once `maxQueued` calls wait, and accepts again after they drain', async () => {
    const limiter = rateLimiter({ concurrency: 1, maxQueued: 2 });
    const gate = deferred();
    const first = limiter.schedule(() => gate.promise);
    const queued = [limiter.schedule(async () => 1), limiter.schedule(async () => 2)];
    const error = await rejection(limiter.schedule(async () => 3, { key: 'default' }));
    expect(error.code).toBe('queue_full');
    expect(error.key).toBe('default');
    gate.resolve();
    await Promise.all([first, ...queued]);
    await expect(limiter.schedule(async () => 4)).resolves.toBe(4);
  });

  it('bounds each key on its own', async () => {
    const limiter = rateLimiter({ concurrency: 1, maxQueued: 1 });
    const gate = deferred();
    const held = [
      limiter.schedule(() => gate.promise, { key: 'a' }),
      limiter.schedule(() => gate.promise, { key: 'b' }),
    ];
    const queued = [limiter.schedule(async () => 'a', { key: 'a' }), limiter.schedule(async () => 'b', { key: 'b' })];
    expect((await rejection(limiter.schedule(async () => 'a2', { key: 'a' }))).code).toBe('queue_full');
    gate.resolve();
    await expect(Promise.all([...held, ...queued])).resolves.toEqual([undefined, undefined, 'a', 'b']);
  });
});

describe('rateLimiter: keys', () => {
  it('gives each key its own budget', async () => {
    const limiter = rateLimiter({ limit: 1, interval: 1000 });
    const t0 = Date.now();
    const starts: Array<[string, number]> = [];
    const calls = ['a', 'b', 'a', 'b'].map((key) =>
      limiter.schedule(async () => starts.push([key, Date.now() - t0]), { key }),
    );
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(calls);
    expect(starts).toEqual([
      ['a', 0],
      ['b', 0],
      ['a', 1000],
      ['b', 1000],
    ]);
  });

  it('drops idle keys without any timer', async () => {
    const limiter = rateLimiter({ limit: 5, interval: 1000, idleTimeout: 10_000 });
    for (let i = 0; i < 100; i++) await limiter.schedule(async () => i, { key: `tenant-${i}` });
    expect(limiter.size).toBe(100);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(5_000);
    await limiter.schedule(async () => 0, { key: 'fresh-1' });
    expect(limiter.size).toBe(101); // not idle for long enough yet
    await vi.advanceTimersByTimeAsync(10_000);
    await limiter.schedule(async () => 0, { key: 'fresh-2' });
    expect(limiter.size).toBe(1);
    expect(limiter.stats('tenant-1')).toBeUndefined();
  });

  it('keeps a key that still has work queued or a pause in force', async () => {
    const limiter = rateLimiter({ concurrency: 1, idleTimeout: 1000 });
    const gate = deferred();
    const busy = limiter.schedule(() => gate.promise, { key: 'busy' });
    limiter.pause('paused', 60_000);
    await vi.advanceTimersByTimeAsync(5000);
    await limiter.schedule(async () => 0, { key: 'other' });
    expect(limiter.stats('busy')?.running).toBe(1);
    expect(limiter.stats('paused')?.pausedUntil).toBeGreaterThan(Date.now());
    gate.resolve();
    await busy;
  });
});

describe('rateLimiter: adaptive pauses', () => {
  it('pauses the key until the reset when a response says nothing remains (seconds until reset)', async () => {
    const events: ResilienceEvent[] = [];
    const limiter = rateLimiter({ onEvent: (e) => events.push(e) });
    limiter.observe(
      new Response('{}', {
        headers: { 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '2' },
      }),
      'pipedrive',
    );
    const t0 = Date.now();
    const started = limiter.schedule(async () => Date.now() - t0, { key: 'pipedrive' });
    const other = limiter.schedule(async () => Date.now() - t0, { key: 'other' });
    await expect(other).resolves.toBe(0);
    await vi.advanceTimersByTimeAsync(2000);
    await expect(started).resolves.toBe(2000);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'throttle', reason: 'paused', key: 'pipedrive', waitMs: 2000 }),
    );
    expect(events).toContainEqual(expect.objectContaining({ type: 'throttle', reason: 'queued', key: 'pipedrive' }));
  });

  it('reads a reset given as unix epoch seconds', async () => {
    const limiter = rateLimiter();
    const reset = Math.floor(Date.now() / 1000) + 5;
    limiter.observe(
      new Response(null, { headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) } }),
    );
    expect(limiter.stats()?.pausedUntil).toBe(reset * 1000);
  });

  it('does not pause while something remains', async () => {
    const limiter = rateLimiter();
    limiter.observe(new Response(null, { headers: { 'x-ratelimit-remaining': '3', 'x-ratelimit-reset': '2' } }));
    expect(limiter.stats()?.pausedUntil).toBe(0);
  });

  it('pauses on a 429 for its Retry-After (seconds and HTTP-date), and for `pauseOn429` without one', async () => {
    const limiter = rateLimiter({ pauseOn429: 750 });
    const now = Date.now();
    limiter.observe(new Response(null, { status: 429, headers: { 'retry-after': '3' } }), 'seconds');
    limiter.observe(
      new Response(null, { status: 429, headers: { 'retry-after': new Date(now + 7000).toUTCString() } }),
      'date',
    );
    limiter.observe(new Response(null, { status: 429 }), 'bare');
    expect(limiter.stats('seconds')?.pausedUntil).toBe(now + 3000);
    expect(limiter.stats('date')?.pausedUntil).toBe(now + 7000);
    expect(limiter.stats('bare')?.pausedUntil).toBe(now + 750);
    const t0 = Date.now();
    const waited = limiter.schedule(async () => Date.now() - t0, { key: 'seconds' });
    await vi.advanceTimersByTimeAsync(3000);
    await expect(waited).resolves.toBe(3000);
  });

  it('a 429 that names no wait pauses a key with a limit for its whole window; nothing starts before', async () => {
    const limiter = rateLimiter({ limit: 20, interval: 2000 });
    const learned = adaptiveRateLimiter({ providerWindow: 2000 });
    learned.observe(new Response(null, { headers: { 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '19' } }));
    const t0 = Date.now();
    for (const l of [limiter, learned]) l.observe(new Response(null, { status: 429 }));
    expect(limiter.stats()?.pausedUntil).toBe(t0 + 2000);
    expect(learned.stats()?.pausedUntil).toBe(t0 + 2000);
    const starts: number[] = [];
    const calls = [limiter, learned].map((l) => l.schedule(async () => starts.push(Date.now() - t0)));
    await vi.advanceTimersByTimeAsync(1999);
    expect(starts).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all(calls);
    expect(starts).toEqual([2000, 2000]);
  });

  it('keeps the longer of two pauses and caps a pause at `maxPause`', async () => {
    const limiter = rateLimiter({ maxPause: 10_000 });
    const now = Date.now();
    limiter.observe(new Response(null, { status: 429, headers: { 'retry-after': '5' } }));
    limiter.observe(new Response(null, { status: 429, headers: { 'retry-after': '1' } }));
    expect(limiter.stats()?.pausedUntil).toBe(now + 5000);
    limiter.observe(new Response(null, { status: 429, headers: { 'retry-after': '86400' } }));
    expect(limiter.stats()?.pausedUntil).toBe(now + 10_000);
  });

  it('reads any response-shaped object (another fetch implementation), and ignores what is not one', async () => {
    const limiter = rateLimiter();
    const foreign = { status: 429, headers: new Map([['retry-after', '2']]) };
    limiter.observe(foreign as unknown as Response, 'foreign');
    expect(limiter.stats('foreign')?.pausedUntil).toBe(Date.now() + 2000);
    for (const junk of [null, 'x', { status: 429 }, { status: '429', headers: new Headers() }]) {
      expect(() => limiter.observe(junk as unknown as Response, 'junk')).not.toThrow();
    }
    expect(limiter.stats('junk')).toBeUndefined();
  });

  it('ignores headers it cannot read', async () => {
    const limiter = rateLimiter();
    limiter.observe(new Response(null, { headers: { 'x-ratelimit-remaining': 'zero', 'x-ratelimit-reset': '-4' } }));
    expect(limiter.stats()?.pausedUntil).toBe(0);
  });

  it('adaptive: learns the limit and window, and books what the provider counted that this process did not', async () => {
    const limiter = adaptiveRateLimiter({ providerWindow: 2000 });
    limiter.observe(
      new Response(null, {
        headers: { 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '15', 'x-ratelimit-reset': '2' },
      }),
    );
    expect(limiter.stats()).toMatchObject({ limit: 20, interval: 2000, used: 5 });
    const t0 = Date.now();
    const starts: number[] = [];
    const calls = Array.from({ length: 16 }, () => limiter.schedule(async () => starts.push(Date.now() - t0)));
    await vi.advanceTimersByTimeAsync(2000);
    await Promise.all(calls);
    expect(starts.filter((t) => t === 0)).toHaveLength(15);
    expect(starts.at(-1)).toBe(2000);
  });

  it('adaptive: a response counted before one of our grants left the window books nothing extra', async () => {
    const limiter = adaptiveRateLimiter({ limit: 2, interval: 1000, providerWindow: 1000 });
    const t0 = Date.now();
    const slow = () => new Promise((resolve) => setTimeout(resolve, 100));
    // confirm the limit (2 per 1 s) and learn the call duration (100 ms)
    const first = limiter.schedule(slow);
    await vi.advanceTimersByTimeAsync(100);
    await first;
    limiter.observe(
      new Response(null, {
        headers: { 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '1' },
      }),
    );
    await vi.advanceTimersByTimeAsync(850);
    const second = limiter.schedule(slow); // at 950: the provider now counts 0 and 950
    await vi.advanceTimersByTimeAsync(100);
    await second;
    // at 1050 the answer to the call of 950 says 0 left: both are ours (the first holds its
    // slot until 100 + 1000), so nothing is booked and the next call starts when the first frees
    limiter.observe(
      new Response(null, {
        headers: { 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1' },
      }),
    );
    expect(limiter.stats()).toMatchObject({ used: 2, pausedUntil: 0 });
    const third = limiter.schedule(async () => Date.now() - t0);
    await vi.advanceTimersByTimeAsync(100);
    await expect(third).resolves.toBe(1100);
  });

  it('adaptive: running calls count as ours when a response reports what remains, so none is booked twice', async () => {
    const limiter = adaptiveRateLimiter({ limit: 20, interval: 2000, providerWindow: 2000 });
    const gates = Array.from({ length: 5 }, () => deferred());
    const calls = gates.map((gate) => limiter.schedule(() => gate.promise));
    expect(limiter.stats()).toMatchObject({ running: 5, used: 5 });
    // the provider saw all five (15 left): the five running are those five, not someone else's
    limiter.observe(
      new Response(null, {
        headers: { 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '15', 'x-ratelimit-reset': '2' },
      }),
    );
    expect(limiter.stats()?.used).toBe(5);
    for (const gate of gates) gate.resolve();
    await Promise.all(calls);
    expect(limiter.stats()).toMatchObject({ running: 0, used: 5 });
    // another consumer took 3 more: booked, once
    limiter.observe(
      new Response(null, {
        headers: { 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '12', 'x-ratelimit-reset': '2' },
      }),
    );
    expect(limiter.stats()?.used).toBe(8);
  });

  it('adaptive: takes the window from RateLimit-Policy', async () => {
    const limiter = adaptiveRateLimiter();
    limiter.observe(
      new Response(null, { headers: { RateLimit: '"burst";r=9;t=4', 'RateLimit-Policy': '"burst";q=10;w=5' } }),
      'ietf',
    );
    expect(limiter.stats('ietf')).toMatchObject({ limit: 10, interval: 5000, used: 1 });
  });

  it('reads no more than three headers of a response that cannot pause a key, unless adaptive', async () => {
    const looked: string[] = [];
    const counting = (headers: Record<string, string>) => {
      const real = new Headers(headers);
      return {
        status: 200,
        headers: {
          get: (name: string) => {
            looked.push(name);
            return real.get(name);
          },
        },
      } as unknown as Response;
    };
    const plain = rateLimiter();
    plain.observe(counting({ 'content-type': 'application/json' }));
    plain.observe(counting({ 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '7', 'x-ratelimit-reset': '2' }));
    expect(looked.length).toBeLessThanOrEqual(6);
    expect(plain.stats()?.pausedUntil).toBe(0);
    looked.length = 0;
    plain.observe(counting({ RateLimit: '"default";r=0;t=2' }), 'ietf');
    expect(looked.length).toBeGreaterThan(3);
    expect(plain.stats('ietf')?.pausedUntil).toBe(Date.now() + 2000);
    looked.length = 0;
    const adaptive = adaptiveRateLimiter({ providerWindow: 2000 });
    adaptive.observe(counting({ 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '7' }));
    expect(looked.length).toBeGreaterThan(3);
    expect(adaptive.stats()).toMatchObject({ limit: 20, used: 13 });
  });

  it('does not learn limits unless adaptive', async () => {
    const limiter = rateLimiter({ limit: 100, interval: 1000 });
    limiter.observe(new Response(null, { headers: { 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '10' } }));
    expect(limiter.stats()).toMatchObject({ limit: 100, interval: 1000 });
  });
});

describe('rateLimiter: events, close', () => {
  it('reports a queued call with its expected wait, and survives a throwing hook', async () => {
    const events: ResilienceEvent[] = [];
    const limiter = rateLimiter({
      limit: 1,
      interval: 1000,
      onEvent: (e) => {
        events.push(e);
        throw new Error('hook bug');
      },
    });
    await limiter.schedule(async () => 0, { key: 'k' });
    const queued = limiter.schedule(async () => 1, { key: 'k' });
    expect(events).toEqual([expect.objectContaining({ type: 'throttle', reason: 'queued', key: 'k', waitMs: 1000 })]);
    await vi.advanceTimersByTimeAsync(1000);
    await expect(queued).resolves.toBe(1);
  });

  it('close rejects waiting calls with `closed`, clears timers, and refuses later calls', async () => {
    const limiter = rateLimiter({ limit: 1, interval: 1000 });
    await limiter.schedule(async () => 0);
    const waiting = limiter.schedule(async () => 1);
    limiter.close();
    expect((await rejection(waiting)).code).toBe('closed');
    expect(vi.getTimerCount()).toBe(0);
    expect((await rejection(limiter.schedule(async () => 2))).code).toBe('closed');
  });
});

describe('rateLimiter: bad input', () => {
  it.each([
    [{ limit: 0 }, 'limit'],
    [{ limit: -1 }, 'limit'],
    [{ limit: Number.NaN }, 'limit'],
    [{ interval: 0 }, 'interval'],
    [{ interval: Number.POSITIVE_INFINITY }, 'interval'],
    [{ concurrency: 1.5 }, 'concurrency'],
    [{ concurrency: 0 }, 'concurrency'],
    [{ maxQueued: -3 }, 'maxQueued'],
    [{ defaultKey: '' }, 'defaultKey'],
    [{ adaptive: 'yes' }, 'adaptive'],
    [{ providerWindow: 0 }, 'providerWindow'],
    [{ pauseOn429: -1 }, 'pauseOn429'],
    [{ maxPause: 0 }, 'maxPause'],
    [{ idleTimeout: Number.NaN }, 'idleTimeout'],
    [{ onEvent: 'log' }, 'onEvent'],
    [{ limt: 5 }, 'unknown option "limt"'],
    ['fast', 'options must be an object'],
  ])('rejects options %j at construction', (options, mention) => {
    const caught = thrownBy(() => rateLimiter(options as never));
    expect(isRateLimitError(caught)).toBe(true);
    expect((caught as RateLimitError).code).toBe('invalid_options');
    expect((caught as RateLimitError).message).toContain(mention);
    expect((caught as RateLimitError).message).toMatch(/^\[@ballast\/core\] \[rateLimiter\] /);
  });

  it('does not mutate the caller options', () => {
    const options = Object.freeze({ limit: 5, interval: 1000 });
    expect(() => adaptiveRateLimiter(options)).not.toThrow();
    expect(options).toEqual({ limit: 5, interval: 1000 });
  });

  it.each([
    [{ key: '' }, 'key'],
    [{ key: 42 }, 'key'],
    [{ weight: 0 }, 'weight'],
    [{ weight: -2 }, 'weight'],
    [{ weight: Number.NaN }, 'weight'],
    [{ weight: '2' }, 'weight'],
    [{ priority: Number.POSITIVE_INFINITY }, 'priority'],
    [{ priority: 'high' }, 'priority'],
    [{ signal: { aborted: false } }, 'signal'],
    [{ maxWait: -1 }, 'maxWait'],
    [{ maxWait: Number.NaN }, 'maxWait'],
    [{ maxWait: '100' }, 'maxWait'],
    [null, 'schedule options'],
  ])('rejects call options %j with invalid_argument', async (options, mention) => {
    const limiter = rateLimiter();
    const error = await rejection(limiter.schedule(async () => 1, options as never));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain(mention);
  });

  it('rejects a non-function, and bad pause arguments', async () => {
    const limiter = rateLimiter();
    expect((await rejection(limiter.schedule('nope' as never))).code).toBe('invalid_argument');
    expect(() => limiter.pause('', 10)).toThrow(RateLimitError);
    expect(() => limiter.pause('k', -1)).toThrow(/duration/);
  });
});
