import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { adaptiveRateLimiter, type LocalRateLimiter } from './local';

/**
 * A provider that enforces `limit` requests per `windowMs` and answers with
 * Pipedrive-style headers: `x-ratelimit-limit`, `x-ratelimit-remaining` and
 * `x-ratelimit-reset` in whole seconds (rounded up), and a bare 429 (no
 * Retry-After) once the window is spent. `fixed` windows start every
 * `windowMs`; a `rolling` window counts the last `windowMs` (Pipedrive's
 * documented rule), and its reset is when the oldest counted request leaves.
 * It runs on the (fake) clock, so the limiter and the provider share virtual
 * time.
 */
function fakeProvider(options: { limit: number; windowMs: number; latencyMs: number; rolling: boolean }) {
  const t0 = Date.now();
  let window = -1;
  let used = 0;
  const counted: number[] = [];
  const rejected: number[] = [];
  const accepted: number[] = [];
  async function call(): Promise<Response> {
    const now = Date.now();
    let resetAt: number;
    if (options.rolling) {
      while (counted.length > 0 && (counted[0] as number) <= now - options.windowMs) counted.shift();
      used = counted.length;
      resetAt = (counted[0] ?? now) + options.windowMs;
    } else {
      const current = Math.floor((now - t0) / options.windowMs);
      if (current !== window) {
        window = current;
        used = 0;
      }
      resetAt = t0 + (current + 1) * options.windowMs;
    }
    const reset = String(Math.ceil((resetAt - now) / 1000));
    let response: Response;
    if (used >= options.limit) {
      rejected.push(now - t0);
      response = new Response('{"success":false}', {
        status: 429,
        headers: {
          'x-ratelimit-limit': String(options.limit),
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': reset,
        },
      });
    } else {
      used++;
      counted.push(now);
      accepted.push(now - t0);
      response = new Response('{"success":true}', {
        headers: {
          'x-ratelimit-limit': String(options.limit),
          'x-ratelimit-remaining': String(options.limit - used),
          'x-ratelimit-reset': reset,
        },
      });
    }
    await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
    return response;
  }
  return { call, rejected, accepted, t0 };
}

/** One logical request: repeated through the limiter until the provider accepts it. */
async function request(limiter: LocalRateLimiter, provider: ReturnType<typeof fakeProvider>): Promise<void> {
  for (;;) {
    const response = await limiter.schedule(() => provider.call(), { key: 'pipedrive' });
    limiter.observe(response, 'pipedrive');
    if (response.status !== 429) return;
  }
}

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 10, 27, 12, 0, 0) });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('adaptiveRateLimiter against a provider enforcing 20 requests per 2 s', () => {
  it.each([
    ['fixed windows, window inferred from the resets', false, {}],
    ['fixed windows, window given (Pipedrive: 2 s)', false, { providerWindow: 2000 }],
    ['rolling window, window inferred from the resets', true, {}],
    ['rolling window, window given', true, { providerWindow: 2000 }],
  ])(
    '1,000 requests finish within 1.1x the minimum time, with no 429 after the first window (%s)',
    async (_, rolling, extra) => {
      const provider = fakeProvider({ limit: 20, windowMs: 2000, latencyMs: 50, rolling });
      const limiter = adaptiveRateLimiter({ concurrency: 5, ...extra });
      let finished = 0;
      const all = Array.from({ length: 1000 }, () => request(limiter, provider).then(() => finished++));
      while (finished < 1000 && Date.now() - provider.t0 < 300_000) await vi.advanceTimersByTimeAsync(100);
      await Promise.all(all);

      const elapsed = Math.max(...provider.accepted) + 50;
      // 50 windows of 20: the last batch can start no earlier than the 50th window
      const minimum = (1000 / 20 - 1) * 2000 + 50;
      expect(provider.accepted).toHaveLength(1000);
      expect(elapsed).toBeLessThanOrEqual(minimum * 1.1);
      expect(provider.rejected.filter((t) => t >= 2000)).toEqual([]);
      // it learned the limit rather than running unthrottled
      expect(limiter.stats('pipedrive')).toMatchObject({ limit: 20, interval: 2000 });
      console.info(
        `adaptive: ${elapsed} ms for 1,000 requests (minimum ${minimum} ms, ${(elapsed / minimum).toFixed(3)}x), ${provider.rejected.length} 429s, all in the first window`,
      );
    },
  );
});

describe('adaptiveRateLimiter inside resilientFetch', () => {
  it('keeps a bulk job of 200 requests free of 429s after the first window, retries included', async () => {
    const { resilientFetch } = await import('../resilient-fetch');
    const provider = fakeProvider({ limit: 20, windowMs: 2000, latencyMs: 50, rolling: true });
    const limiter = adaptiveRateLimiter({ concurrency: 5 });
    const fetch = resilientFetch({
      fetch: () => provider.call(),
      limiter,
      breaker: false,
      cache: false,
      retry: { attempts: 5 },
    });
    let finished = 0;
    const all = Array.from({ length: 200 }, (_, i) =>
      fetch(`https://company.pipedrive.com/api/v2/persons/${i}`).then((res) => {
        finished++;
        return res.status;
      }),
    );
    while (finished < 200 && Date.now() - provider.t0 < 120_000) await vi.advanceTimersByTimeAsync(100);
    const statuses = await Promise.all(all);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(provider.rejected.filter((t) => t >= 2000)).toEqual([]);
    const elapsed = Math.max(...provider.accepted) + 50;
    const minimum = (200 / 20 - 1) * 2000 + 50;
    expect(elapsed).toBeLessThanOrEqual(minimum * 1.1);
    console.info(
      `adaptive in resilientFetch: ${elapsed} ms for 200 requests (minimum ${minimum} ms, ${(elapsed / minimum).toFixed(3)}x), ${provider.rejected.length} 429s, all in the first window`,
    );
  });
});
