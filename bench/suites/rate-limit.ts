import { rateLimiter } from '@ballast/core/resilience';
import Bottleneck from 'bottleneck';
import PQueue from 'p-queue';
import { type BenchRow, measureRow, report, speedup } from '../harness';

/**
 * `pnpm bench rate-limit`: what a limiter adds to one call while the call is
 * under the limit (budget left, a free slot), against the floor of calling
 * the function directly; then how many calls per second each limiter gets
 * through when 2,000 arrive at once with no limit configured.
 */
const work = async (): Promise<number> => 1;

// under the limit: a finite sliding-window budget that the bench never reaches, and a concurrency cap
const ballast = rateLimiter({ limit: 1e9, interval: 1000, concurrency: 1000 });
const keyed = { key: 'api.example.com', signal: new AbortController().signal };
const bottleneck = new Bottleneck();
const pQueue = new PQueue();

const rows: BenchRow[] = [
  await measureRow('direct call', () => work()),
  await measureRow('ballast rateLimiter', () => ballast.schedule(work)),
  await measureRow('ballast rateLimiter (key + signal)', () => ballast.schedule(work, keyed)),
  await measureRow('p-queue add', () => pQueue.add(work)),
  await measureRow('bottleneck schedule', () => bottleneck.schedule(work)),
];

/** Throughput when `n` calls arrive at once: the time until the last one settles. */
async function flood(name: string, n: number, run: () => Promise<unknown>): Promise<BenchRow> {
  const started = performance.now();
  await Promise.all(Array.from({ length: n }, run));
  const ms = performance.now() - started;
  return { name, opsPerSec: (n / ms) * 1000, note: `${n} calls at once in ${ms.toFixed(1)} ms` };
}

rows.push(
  await flood('ballast rateLimiter (2,000 at once)', 2000, () => ballast.schedule(work)),
  await flood('p-queue add (2,000 at once)', 2000, () => pQueue.add(work)),
  await flood('bottleneck schedule (2,000 at once)', 2000, () => bottleneck.schedule(work)),
);

const p50 = (name: string): number => rows.find((r) => r.name === name)?.p50Ns ?? Number.NaN;

report('rate-limit', rows, [
  {
    label: 'ballast rateLimiter >= 100x bottleneck schedule (ops/s)',
    measured: (r) => speedup(r, 'ballast rateLimiter', 'bottleneck schedule'),
    met: (v) => v >= 100,
  },
  {
    label: 'ballast rateLimiter p50 overhead over direct call, in microseconds (target <= 20)',
    measured: () => (p50('ballast rateLimiter') - p50('direct call')) / 1000,
    met: (v) => v <= 20,
  },
]);
