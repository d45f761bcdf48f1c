import { describe, expect, it } from 'vitest';
import type { RateLimiter } from '../types';
import { isRateLimitError } from './errors';

/** What the contract suite needs to build a fresh limiter (own keys, no shared state between tests). */
export interface ContractLimiter extends RateLimiter {
  close(): void;
}

/**
 * The behaviour every Ballast {@link RateLimiter} shares, run against each
 * implementation in real time with short windows (a Redis-backed limiter runs
 * on Redis's clock, which fake timers cannot move).
 * @internal test support
 */
export function rateLimiterContract(
  name: string,
  make: (options: { limit: number; interval: number }) => ContractLimiter,
): void {
  describe(`RateLimiter contract: ${name}`, () => {
    it('runs fn, settles with its result or its error, and hands it the call signal', async () => {
      const limiter = make({ limit: 10, interval: 1000 });
      const controller = new AbortController();
      await expect(limiter.schedule(async (signal) => signal, { signal: controller.signal })).resolves.toBe(
        controller.signal,
      );
      await expect(limiter.schedule(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      limiter.close();
    });

    it('holds the calls beyond the budget until the window allows them, per key', async () => {
      const limiter = make({ limit: 2, interval: 300 });
      const t0 = Date.now();
      const starts = await Promise.all(
        ['a', 'a', 'a', 'b'].map((key) => limiter.schedule(async () => [key, Date.now() - t0] as const, { key })),
      );
      const late = starts.filter(([, at]) => at >= 250);
      expect(late).toHaveLength(1);
      expect(late[0]?.[0]).toBe('a');
      limiter.close();
    });

    it('counts weights against the budget and rejects a weight that can never fit', async () => {
      const limiter = make({ limit: 4, interval: 300 });
      const t0 = Date.now();
      await limiter.schedule(async () => 1, { weight: 3 });
      const second = await limiter.schedule(async () => Date.now() - t0, { weight: 2 });
      expect(second).toBeGreaterThanOrEqual(250);
      const error = await limiter.schedule(async () => 1, { weight: 5 }).catch((e: unknown) => e);
      expect(isRateLimitError(error) && error.code).toBe('invalid_argument');
      limiter.close();
    });

    it('an aborted waiting call rejects with aborted and never runs', async () => {
      const limiter = make({ limit: 1, interval: 2000 });
      await limiter.schedule(async () => 1);
      let ran = false;
      const waiting = limiter.schedule(
        async () => {
          ran = true;
        },
        { signal: AbortSignal.timeout(50) },
      );
      const error = await waiting.catch((e: unknown) => e);
      expect(isRateLimitError(error) && error.code).toBe('aborted');
      expect(ran).toBe(false);
      limiter.close();
    });

    it('a call with maxWait rejects with wait_too_long instead of waiting past it; maxWait 0 runs only what can start now', async () => {
      const limiter = make({ limit: 1, interval: 2000 });
      await expect(limiter.schedule(async () => 'first', { maxWait: 0 })).resolves.toBe('first');
      let ran = false;
      const run = async () => {
        ran = true;
      };
      for (const maxWait of [100, 0]) {
        const error = await limiter.schedule(run, { maxWait }).catch((e: unknown) => e);
        expect(isRateLimitError(error) && error.code).toBe('wait_too_long');
      }
      expect(ran).toBe(false);
      limiter.close();
    });

    it('a 429 seen by observe pauses the key for its Retry-After', async () => {
      const limiter = make({ limit: 100, interval: 1000 });
      limiter.observe?.(new Response(null, { status: 429, headers: { 'retry-after-ms': '400' } }), 'paused');
      await new Promise((resolve) => setTimeout(resolve, 20)); // a shared store writes the pause asynchronously
      const t0 = Date.now();
      await limiter.schedule(async () => 1, { key: 'paused' });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
      limiter.close();
    });

    it('close rejects waiting calls with closed', async () => {
      const limiter = make({ limit: 1, interval: 2000 });
      await limiter.schedule(async () => 1);
      const waiting = limiter.schedule(async () => 2);
      limiter.close();
      const error = await waiting.catch((e: unknown) => e);
      expect(isRateLimitError(error) && error.code).toBe('closed');
    });
  });
}
