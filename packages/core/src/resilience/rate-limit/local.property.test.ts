import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { rateLimiter } from './local';

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 10, 27, 12, 0, 0) });
});
afterEach(() => {
  vi.useRealTimers();
});

const call = fc.record({
  delay: fc.integer({ min: 0, max: 400 }),
  weight: fc.integer({ min: 1, max: 4 }),
  duration: fc.integer({ min: 0, max: 300 }),
  priority: fc.integer({ min: -2, max: 2 }),
  key: fc.constantFrom('a', 'b'),
});

describe('rateLimiter properties', () => {
  it('for any arrivals, weights, durations and priorities: every call runs, no window of `interval` holds more than `limit`, never more than `concurrency` at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(call, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 4, max: 10 }),
        fc.integer({ min: 50, max: 1000 }),
        fc.integer({ min: 1, max: 4 }),
        async (calls, limit, interval, concurrency) => {
          const limiter = rateLimiter({ limit, interval, concurrency });
          const t0 = Date.now();
          const starts: Array<{ key: string; at: number; weight: number }> = [];
          const running = new Map<string, number>();
          let overConcurrency = false;
          let offset = 0;
          const done: Promise<unknown>[] = [];
          for (const c of calls) {
            offset += c.delay;
            const at = offset;
            done.push(
              new Promise((resolve) => setTimeout(resolve, at)).then(() =>
                limiter.schedule(
                  async () => {
                    starts.push({ key: c.key, at: Date.now() - t0, weight: c.weight });
                    const now = (running.get(c.key) ?? 0) + 1;
                    running.set(c.key, now);
                    if (now > concurrency) overConcurrency = true;
                    await new Promise((resolve) => setTimeout(resolve, c.duration));
                    running.set(c.key, (running.get(c.key) ?? 1) - 1);
                  },
                  { key: c.key, weight: c.weight, priority: c.priority },
                ),
              ),
            );
          }
          await vi.runAllTimersAsync();
          await Promise.all(done);
          expect(starts).toHaveLength(calls.length);
          expect(overConcurrency).toBe(false);
          for (const key of ['a', 'b']) {
            const mine = starts.filter((s) => s.key === key);
            for (const s of mine) {
              const inWindow = mine.filter((o) => o.at >= s.at && o.at < s.at + interval);
              expect(inWindow.reduce((sum, o) => sum + o.weight, 0)).toBeLessThanOrEqual(limit);
            }
          }
          expect(vi.getTimerCount()).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });
});
