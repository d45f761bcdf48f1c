import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  adaptiveRateLimiter,
  cacheStatus,
  circuitBreaker,
  isResilienceError,
  type ResilienceEvent,
  resilientFetch,
} from '@ballast/core/resilience';
import type { Scenario } from '../run';

/**
 * A price service that goes down and then rate-limits, called through
 * resilientFetch at a steady rate. Time is compressed: one "second" of the
 * story lasts SECOND_MS of wall clock, so the whole run takes a few seconds.
 */
const SECOND_MS = 250;
const SECONDS = 16;
const CALLS_PER_SECOND = 20;

type Phase = 'healthy' | 'outage' | '429 storm' | 'recovered';

/** The provider's script, by story second. */
function phaseAt(second: number): Phase {
  if (second < 3) return 'healthy';
  if (second < 8) return 'outage';
  if (second < 11) return '429 storm';
  return 'recovered';
}

interface Second {
  calls: number;
  hits: number;
  fresh: number;
  stale: number;
  failed: number;
  rejected: number;
  retries: number;
  throttled: number;
}

/** The fake provider: 200s with a price, 503s in the outage, 429s with a short wait in the storm. */
async function flakyProvider(clock: () => number, hits: (second: number) => void) {
  let version = 0;
  const server = createServer((req, res) => {
    const second = clock();
    hits(second);
    const phase = phaseAt(second);
    if (phase === 'outage') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream unavailable');
    } else if (phase === '429 storm') {
      res.writeHead(429, { 'retry-after-ms': String(SECOND_MS / 2), 'x-ratelimit-remaining': '0' }).end('slow down');
    } else {
      version++;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ sku: 'widget', price: 1999, version }));
    }
    void req;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/prices/widget`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const scenario: Scenario = {
  title: 'Resilience: an outage and a 429 storm, absorbed by breaker, stale cache and backoff',
  async run(report) {
    const started = performance.now();
    const clock = () => Math.floor((performance.now() - started) / SECOND_MS);
    const seconds: Second[] = Array.from({ length: SECONDS + 2 }, () => ({
      calls: 0,
      hits: 0,
      fresh: 0,
      stale: 0,
      failed: 0,
      rejected: 0,
      retries: 0,
      throttled: 0,
    }));
    const at = (second: number) => seconds[Math.min(second, seconds.length - 1)] as Second;
    const provider = await flakyProvider(clock, (s) => at(s).hits++);
    const events: Array<{ second: number; event: ResilienceEvent }> = [];
    const onEvent = (event: ResilienceEvent) => {
      const second = clock();
      events.push({ second, event });
      if (event.type === 'retry') at(second).retries++;
      if (event.type === 'breaker.reject') at(second).rejected++;
      if (event.type === 'throttle') at(second).throttled++;
    };
    const breakers = circuitBreaker({
      failureThreshold: 5,
      cooldownMs: SECOND_MS * 2,
      windowMs: SECOND_MS * 4,
      onEvent,
    });
    const fetch = resilientFetch({
      retry: { attempts: 3, baseDelayMs: SECOND_MS / 10, maxDelayMs: SECOND_MS, maxRetryAfterMs: SECOND_MS * 2 },
      breaker: breakers,
      limiter: adaptiveRateLimiter({ limit: CALLS_PER_SECOND * 8, interval: SECOND_MS * 4, onEvent }),
      cache: { maxStaleMs: 60_000 },
      timeoutMs: SECOND_MS * 2,
      deadlineMs: SECOND_MS * 4,
      onEvent,
    });

    const breakerStates: Array<string | undefined> = [];
    const inFlight: Array<Promise<void>> = [];
    try {
      for (let tick = 0; tick < SECONDS * CALLS_PER_SECOND; tick++) {
        const due = started + (tick * SECOND_MS) / CALLS_PER_SECOND;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const second = clock();
        at(second).calls++;
        breakerStates[second] = breakers.health()[0]?.state ?? 'closed';
        inFlight.push(
          fetch(provider.url).then(
            async (res) => {
              await res.arrayBuffer();
              if (res.status === 200 && cacheStatus(res) === 'stale') at(second).stale++;
              else if (res.status === 200) at(second).fresh++;
              else at(second).failed++;
            },
            (error: unknown) => {
              at(second).failed++;
              if (!isResilienceError(error)) report.line(`unexpected error: ${String(error)}`);
            },
          ),
        );
      }
      await Promise.all(inFlight);
    } finally {
      breakers.close();
      await provider.close();
    }

    report.line(
      `1 story second = ${SECOND_MS} ms; ${CALLS_PER_SECOND} calls per second from the app; counts below are per story second`,
    );
    report.table(
      seconds.slice(0, SECONDS).map((s, i) => ({
        t: `${i}s`,
        provider: phaseAt(i),
        breaker: breakerStates[i] ?? '',
        'app calls': s.calls,
        'provider hits': s.hits,
        fresh: s.fresh,
        stale: s.stale,
        failed: s.failed,
        retries: s.retries,
        'refused (open)': s.rejected,
      })),
    );
    const kinds = new Map<string, number>();
    for (const { event } of events) kinds.set(event.type, (kinds.get(event.type) ?? 0) + 1);
    report.line(`events: ${[...kinds].map(([k, n]) => `${k} x${n}`).join(', ')}`);

    const sum = (from: number, to: number, f: (s: Second) => number) =>
      seconds.slice(from, to).reduce((n, s) => n + f(s), 0);
    const opened = events.find((e) => e.event.type === 'breaker.open');
    const closedAfter = events.find((e) => e.event.type === 'breaker.close' && e.second >= 8);
    const outageCalls = sum(3, 8, (s) => s.calls);
    const outageHits = sum(3, 8, (s) => s.hits);
    const outageServed = sum(3, 8, (s) => s.fresh + s.stale);
    const stormCalls = sum(8, 11, (s) => s.calls);
    const stormServed = sum(8, 11, (s) => s.fresh + s.stale);
    const stormHits = sum(8, 11, (s) => s.hits);
    const lastSecond = at(SECONDS - 1);

    const check = (ok: boolean, text: string) => (ok ? report.ok(text) : report.fail(text));
    check(
      opened !== undefined && phaseAt(opened.second) === 'outage',
      `the breaker opened during the outage (story second ${opened?.second ?? '-'}), not on the first failure`,
    );
    check(
      outageHits < outageCalls,
      `while open it failed fast: the provider saw ${outageHits} requests for ${outageCalls} app calls in the outage`,
    );
    check(
      outageServed === outageCalls,
      `every app call in the outage got an answer: ${outageServed}/${outageCalls} (stale from the cache, marked x-ballast-cache: stale)`,
    );
    check(
      stormServed === stormCalls && stormHits <= stormCalls * 2,
      `the 429 storm was absorbed: ${stormServed}/${stormCalls} calls answered, ${stormHits} provider hits (retries waited the server's retry-after-ms)`,
    );
    check(
      closedAfter !== undefined,
      `a successful probe closed the breaker again (story second ${closedAfter?.second ?? '-'})`,
    );
    check(
      lastSecond.fresh === lastSecond.calls && lastSecond.calls > 0,
      `recovered: the last second served ${lastSecond.fresh}/${lastSecond.calls} fresh responses`,
    );
  },
};

export default scenario;
