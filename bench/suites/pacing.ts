import { type RateLimiterOptions, rateLimiter, resilientFetch } from '@ballast/core/resilience';
import {
  minimumTime,
  rollingWindowServer,
} from '../../packages/core/src/resilience/rate-limit/fixtures/rolling-window-server';
import { type BenchRow, report } from '../harness';

/**
 * `pnpm bench pacing`: how close a limiter paces a bulk job to what the
 * provider allows, over real sockets and in real time. A local server
 * enforces Pipedrive's burst limit (20 requests per rolling 2 s), counted
 * when a request arrives, 20–60 ms after the limiter granted it, with
 * Pipedrive-style headers (`x-ratelimit-*`, reset in whole seconds) and a 429
 * with `Retry-After`. 100 requests through `resilientFetch` (retries on, no
 * breaker), 5 at once. Each row's ops/s is requests per second; the targets
 * compare its time with the theoretical minimum (the last batch of 20 cannot
 * arrive before 4 windows after the first, nor sooner than 20 ms after it is
 * sent) and count the 429s after the first window.
 */
const LIMIT = 20;
const WINDOW = 2000;
const REQUESTS = 100;
const MIN_ARRIVAL = 20;

interface Run {
  row: BenchRow;
  late429: number;
}

async function run(name: string, options: RateLimiterOptions): Promise<Run> {
  const server = await rollingWindowServer({ limit: LIMIT, windowMs: WINDOW, arrivalDelayMs: [MIN_ARRIVAL, 60] });
  try {
    const limiter = rateLimiter({ concurrency: 5, ...options });
    const fetch = resilientFetch({ limiter, breaker: false, retry: { attempts: 10 } });
    // a warm HTTP client, as in a running app, without teaching the limiter anything
    // (the server counts this request too: let its window pass)
    await (await globalThis.fetch(`${server.url}/warm-up`)).arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, WINDOW + 100));
    server.accepted.length = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        const res = await fetch(`${server.url}/persons/${i}`);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`request ${i} ended with ${res.status}`);
      }),
    );
    const ms = Date.now() - t0;
    const late429 = server.rejected.filter((at) => at - t0 >= WINDOW).length;
    const note = `${REQUESTS} requests in ${ms} ms, ${server.rejected.length} 429s (${late429} after the first window)`;
    return { row: { name, opsPerSec: (REQUESTS / ms) * 1000, note }, late429 };
  } finally {
    await server.close();
  }
}

const minimum = minimumTime(REQUESTS, LIMIT, WINDOW, MIN_ARRIVAL);
const given = await run('adaptive, limit given', { adaptive: true, limit: LIMIT, interval: WINDOW });
const learned = await run('adaptive, limit learned from headers', { adaptive: true });
const fromGrant = await run('adaptive, limit given, slot counted from the grant', {
  adaptive: true,
  limit: LIMIT,
  interval: WINDOW,
  holdUntilSettled: false,
});

const rows: BenchRow[] = [
  { name: 'theoretical minimum', opsPerSec: (REQUESTS / minimum) * 1000, note: `${minimum} ms` },
  given.row,
  learned.row,
  fromGrant.row,
];

const ratio = (name: string) => (r: ReadonlyMap<string, BenchRow>) =>
  (r.get('theoretical minimum')?.opsPerSec ?? Number.NaN) / (r.get(name)?.opsPerSec ?? Number.NaN);

report('pacing', rows, [
  { label: 'limit given: time / minimum (target <= 1.1)', measured: ratio(given.row.name), met: (v) => v <= 1.1 },
  {
    label: 'limit learned: time / minimum (target <= 1.1)',
    measured: ratio(learned.row.name),
    met: (v) => v <= 1.1,
  },
  { label: 'limit given: 429s after the first window (target 0)', measured: () => given.late429, met: (v) => v === 0 },
  {
    label: 'limit learned: 429s after the first window (target 0)',
    measured: () => learned.late429,
    met: (v) => v === 0,
  },
  {
    label: 'slot from the grant (holdUntilSettled: false), for comparison: time / minimum',
    measured: ratio(fromGrant.row.name),
  },
]);
