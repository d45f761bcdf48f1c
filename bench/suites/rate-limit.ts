import { rateLimiter } from '@ballast/core/resilience';
import Bottleneck from 'bottleneck';
import PQueue from 'p-queue';
import { bend, type CurvePoint, curveMode, writeCurve } from '../curve';
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

/**
 * `--curve`: the cost per call when 1, 100 or 10,000 calls are queued at
 * once (µs per call, median of 9 floods after a warm-up), for each limiter.
 * A limiter whose queue costs O(n) per call bends upwards. Bottleneck is
 * left out: 3.7–5.5 ms per call at every size (its scheduler's timer), and
 * 10,000 queued calls took minutes.
 */
if (curveMode) {
  const sizes = [1, 100, 10_000];
  const limiters: [string, () => Promise<unknown>][] = [
    ['direct call (floor)', () => work()],
    ['ballast rateLimiter', () => ballast.schedule(work)],
    ['p-queue add', () => pQueue.add(work)],
  ];
  const points: CurvePoint[] = [];
  for (const n of sizes) {
    for (const [series, run] of limiters) {
      const rounds = n === 1 ? 4000 : n === 100 ? 400 : 30;
      const per: number[] = [];
      const t0 = performance.now();
      // warm-up floods first: the queue's paths (heap, drain) are only compiled once calls wait
      const warmup = n === 10_000 ? 10 : 3;
      for (let r = 0; r < rounds + warmup; r++) {
        const started = performance.now();
        await Promise.all(Array.from({ length: n }, run));
        if (r >= warmup) per.push(((performance.now() - started) * 1000) / n);
      }
      console.log(`  ${series}, ${n} at once: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      per.sort((a, b) => a - b);
      points.push({ series, x: n, y: per[Math.floor(per.length / 2)] as number, extra: { floods: rounds } });
    }
  }
  await writeCurve(
    'rate-limit',
    {
      title: 'Limiter cost per call by calls queued at once',
      x: 'calls queued at once',
      y: 'µs per call',
      xLog: true,
      yLog: true,
    },
    points,
    limiters.map(([series]) => `${series}: largest / smallest cost per call ${bend(points, series).toFixed(2)}`),
  );
  process.exit(0);
}

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
