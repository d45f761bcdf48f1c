import { afterEach, describe, expect, it } from 'vitest';
import { resilientFetch } from '../resilient-fetch';
import { minimumTime, type RollingWindowServer, rollingWindowServer } from './fixtures/rolling-window-server';
import { adaptiveRateLimiter } from './local';

/**
 * Real sockets, real time: a provider that counts a request when it arrives,
 * 20–60 ms after the limiter granted it, enforcing 10 per rolling 500 ms (a
 * compressed Pipedrive, 20 per 2 s). Counting a slot from the grant let a
 * late arrival of one window and a prompt one of the next share a window:
 * 429s in every window. The time ratio is reported here and measured in
 * `pnpm bench pacing`, not asserted (speed targets live in benches).
 */
const LIMIT = 10;
const WINDOW = 500;
const REQUESTS = 50;

let server: RollingWindowServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('adaptiveRateLimiter + resilientFetch against a provider counting at arrival (real sockets)', () => {
  it.each([
    ['a limit given', { limit: LIMIT, interval: WINDOW }],
    ['a limit learned from x-ratelimit-* headers', { providerWindow: WINDOW }],
  ])('%s: every request succeeds, no 429 after the first window', async (_, options) => {
    server = await rollingWindowServer({ limit: LIMIT, windowMs: WINDOW, arrivalDelayMs: [20, 60], reset: 'precise' });
    const limiter = adaptiveRateLimiter({ concurrency: 5, ...options });
    const fetch = resilientFetch({ limiter, breaker: false, retry: { attempts: 10 } });
    const t0 = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        const res = await fetch(`${server?.url}/persons/${i}`);
        await res.arrayBuffer();
        return res.status;
      }),
    );
    const elapsed = Date.now() - t0;
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(server.accepted).toHaveLength(REQUESTS);
    const late = server.rejected.map((at) => at - t0).filter((at) => at >= WINDOW);
    expect(late).toEqual([]);
    const minimum = minimumTime(REQUESTS, LIMIT, WINDOW, 20);
    console.info(
      `pacing (${_}): ${elapsed} ms for ${REQUESTS} requests, minimum ${minimum} ms (${(elapsed / minimum).toFixed(3)}x), ${server.rejected.length} 429s in the first window`,
    );
  });
});
