import { circuitBreaker, rateLimiter, resilientFetch } from '@ballast/core/resilience';
import Bottleneck from 'bottleneck';
import {
  ConsecutiveBreaker,
  circuitBreaker as cockatielBreaker,
  retry as cockatielRetry,
  ExponentialBackoff,
  handleAll,
  wrap,
} from 'cockatiel';
import OpossumBreaker from 'opossum';
import PQueue from 'p-queue';
import pRetry from 'p-retry';
import { type BenchRow, measureRow, report, speedup } from '../harness';

/**
 * `pnpm bench resilience`: what the resilience layers add to one successful
 * call. The floor is a fetch stub that answers at once with a fresh
 * `Response`; every fetch row calls the same stub, so the difference is the
 * layers. Peers wrap the same stub (or the same trivial async function).
 */
const URL_A = 'https://api.bench.test/v1/items';
const stub = async (_input?: unknown, _init?: unknown): Promise<Response> => new Response('ok');
const work = async (): Promise<number> => 1;

// Budgets the bench never reaches: the success path, under the limit, breaker closed.
const limiter = rateLimiter({ limit: 1e9, interval: 1000, concurrency: 1000 });
const breakers = circuitBreaker();
const allLayers = resilientFetch({
  fetch: stub,
  deadlineMs: 10_000,
  cache: {},
  retry: {},
  breaker: breakers,
  limiter,
  timeoutMs: 5_000,
});
const retryAndBreaker = resilientFetch({ fetch: stub, retry: {}, breaker: circuitBreaker(), timeoutMs: false });
const noLayers = resilientFetch({ fetch: stub, retry: false, breaker: false, timeoutMs: false });

const ownBreaker = circuitBreaker();
const bottleneck = new Bottleneck();
const pQueue = new PQueue();
const opossum = new OpossumBreaker(stub, { timeout: false });
const cockatiel = wrap(
  cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
  cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
);

const rows: BenchRow[] = [
  await measureRow('bare fetch stub', () => stub(URL_A)),
  await measureRow(
    'ballast resilientFetch (all layers)',
    () => allLayers(URL_A),
    'deadline, cache, retry, breaker, limiter, timeout',
  ),
  await measureRow('ballast resilientFetch (retry+breaker)', () => retryAndBreaker(URL_A)),
  await measureRow('ballast resilientFetch (no layers)', () => noLayers(URL_A)),
  await measureRow('ballast rateLimiter', () => limiter.schedule(work)),
  await measureRow('bottleneck schedule', () => bottleneck.schedule(work)),
  await measureRow('p-queue add', () => pQueue.add(work)),
  await measureRow('ballast circuitBreaker execute', () => ownBreaker.execute('api.bench.test', () => stub(URL_A))),
  await measureRow('opossum fire', () => opossum.fire(URL_A)),
  await measureRow('cockatiel retry+breaker', () => cockatiel.execute(() => stub(URL_A))),
  await measureRow('p-retry', () => pRetry(() => stub(URL_A), { retries: 2 })),
];

/**
 * The same two calls in plain sequential loops, interleaved: 30 rounds of
 * 5,000 calls each, alternating floor and layers, keeping each one's best
 * round. A per-call mean that includes the garbage each call leaves behind,
 * and that other work on the machine disturbs less than one long run.
 */
async function interleaved(entries: Array<[string, () => Promise<unknown>]>): Promise<BenchRow[]> {
  const n = 5_000;
  const best = new Map<string, number>();
  for (let round = 0; round < 30; round++) {
    for (const [name, fn] of entries) {
      const started = performance.now();
      for (let i = 0; i < n; i++) await fn();
      const ms = performance.now() - started;
      best.set(name, Math.min(best.get(name) ?? Number.POSITIVE_INFINITY, ms));
    }
  }
  return entries.map(([name]) => {
    const ms = best.get(name) ?? Number.NaN;
    return {
      name,
      opsPerSec: (n / ms) * 1000,
      note: `best of 30 rounds of ${n}: ${((ms * 1000) / n).toFixed(2)} us per call`,
    };
  });
}
rows.push(
  ...(await interleaved([
    ['bare fetch stub (sequential loop)', () => stub(URL_A)],
    ['ballast resilientFetch (all layers, sequential loop)', () => allLayers(URL_A)],
    ['ballast circuitBreaker execute (sequential loop)', () => ownBreaker.execute('api.bench.test', () => stub(URL_A))],
    ['opossum fire (sequential loop)', () => opossum.fire(URL_A)],
    ['cockatiel retry+breaker (sequential loop)', () => cockatiel.execute(() => stub(URL_A))],
  ])),
);
breakers.close();
opossum.shutdown();

const p50 = (name: string): number => rows.find((r) => r.name === name)?.p50Ns ?? Number.NaN;
const perCallUs = (name: string): number => 1e6 / (rows.find((r) => r.name === name)?.opsPerSec ?? Number.NaN);

report('resilience', rows, [
  {
    label: 'all layers add <= 10 us per call over the floor (p50, microseconds)',
    measured: () => (p50('ballast resilientFetch (all layers)') - p50('bare fetch stub')) / 1000,
    met: (v) => v <= 10,
  },
  {
    label: 'all layers add <= 10 us per call over the floor (sequential loop mean, microseconds)',
    measured: () =>
      perCallUs('ballast resilientFetch (all layers, sequential loop)') -
      perCallUs('bare fetch stub (sequential loop)'),
    met: (v) => v <= 10,
  },
  {
    label: 'ballast rateLimiter >= 100x bottleneck schedule (ops/s)',
    measured: (r) => speedup(r, 'ballast rateLimiter', 'bottleneck schedule'),
    met: (v) => v >= 100,
  },
]);
