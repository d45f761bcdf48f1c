import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { midBodyServer } from '../../../test-support/mid-body';
import { describeWithRedis, uniqueKeyPrefix } from '../../../test-support/services';
import { googleMapsClient } from './client';
import { type GoogleMapsError, isGoogleMapsError } from './errors';
import { createFakeGoogleMaps, type FakeGoogleMaps, type FakeGoogleMapsServer } from './testing';

/** The most arrivals within any `windowMs`. */
function busiest(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[start] ?? 0) <= (sorted[end] ?? 0) - windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

/**
 * Five calls at once under a 60-a-minute quota and a 400 ms deadline: one goes out, the other four
 * wait for the quota and give up when the deadline passes, long before the quota would let them go.
 */
async function deadlineInsideQuotaWait(options: Record<string, unknown>) {
  const fake = createFakeGoogleMaps();
  const server = await fake.listen();
  try {
    const maps = googleMapsClient({
      key: 'AIzaDeadline',
      baseUrl: server.url,
      quotaPerMinute: 60,
      deadlineMs: 400,
      ...options,
    });
    const started = Date.now();
    const settled = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) =>
        maps.geocode({ address: `depot ${i}` }).then(
          (answer) => ({ answer, ms: Date.now() - started }),
          (error: unknown) => Promise.reject({ error, ms: Date.now() - started }),
        ),
      ),
    );
    const ok = settled.filter((s) => s.status === 'fulfilled');
    const failed = settled.flatMap((s) =>
      s.status === 'rejected' ? [s.reason as { error: GoogleMapsError; ms: number }] : [],
    );
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(4);
    for (const { error, ms } of failed) {
      expect(isGoogleMapsError(error)).toBe(true);
      expect(error.code).toBe('unavailable');
      expect(error.message).toContain('was not sent: its deadlineMs (400 ms) passed while it waited for the quota');
      expect(ms).toBeGreaterThanOrEqual(380);
      expect(ms).toBeLessThan(950); // the quota's next slot is a second away
    }
    expect(fake.requests).toHaveLength(1);
  } finally {
    await server.close();
  }
}

describe('over real sockets, in real time (local fake server)', () => {
  let fake: FakeGoogleMaps;
  let server: FakeGoogleMapsServer;
  beforeAll(async () => {
    fake = createFakeGoogleMaps();
    server = await fake.listen();
  });
  afterAll(() => server.close());

  it('paces to the quota: 600 a minute arrive at most 10 in any second', async () => {
    fake.reset();
    const maps = googleMapsClient({ key: 'AIzaSocketKey', baseUrl: server.url, quotaPerMinute: 600 });
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => maps.geocode({ address: `kiosk ${i}` })));
    const elapsed = Date.now() - started;
    expect(answers.every((a) => a.status === 'OK')).toBe(true);
    expect(fake.requests).toHaveLength(30);
    // 30 calls at 10 per second: the third slice cannot start before 2 s have passed.
    expect(elapsed).toBeGreaterThanOrEqual(2_000);
    expect(
      busiest(
        fake.requests.map((r) => r.at),
        1_000,
      ),
    ).toBeLessThanOrEqual(10);
  });

  it('deadlineMs bounds the wait for the quota: a call that cannot go out in time fails without a request', async () => {
    await deadlineInsideQuotaWait({});
  });

  it('a refused connection (port closed) is unavailable, and the client works again once the port reopens', async () => {
    fake.reset();
    const maps = googleMapsClient({
      key: 'AIzaSocketKey',
      baseUrl: server.url,
      attempts: 2,
      baseDelayMs: 10,
      retryBudget: false,
      breaker: false,
    });
    fake.outage('refuse');
    const error = await maps.geocode({ address: 'Eiffel Tower' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unavailable' });
    expect(String((error as Error).message)).toMatch(/ECONNREFUSED/);
    expect(fake.requests).toHaveLength(0);
    fake.outage(null);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(maps.geocode({ address: 'Eiffel Tower' })).resolves.toMatchObject({ status: 'OK' });
  });

  it('a hang over a socket times out per attempt, is retried, then reported unavailable', async () => {
    fake.reset();
    const maps = googleMapsClient({
      key: 'AIzaSocketKey',
      baseUrl: server.url,
      attempts: 2,
      baseDelayMs: 10,
      retryBudget: false,
      timeoutMs: 300,
      breaker: false,
    });
    fake.outage('hang', { times: 2 });
    await expect(maps.geocode({ address: 'Eiffel Tower' })).rejects.toMatchObject({ code: 'unavailable' });
    expect(fake.requests.map((r) => r.status)).toEqual(['hang', 'hang']);
    await expect(maps.geocode({ address: 'Eiffel Tower' })).resolves.toMatchObject({ status: 'OK' });
  });
});

describeWithRedis('pacing shared through Redis', (url) => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(url);
  });
  afterAll(() => redis.quit());

  it('deadlineMs bounds the wait for a quota shared through Redis too', async () => {
    await deadlineInsideQuotaWait({ redis, redisKeyPrefix: uniqueKeyPrefix('gm-deadline') });
  });

  it('two clients sharing one Redis spend one quota between them', async () => {
    const fake = createFakeGoogleMaps();
    const server = await fake.listen();
    try {
      const prefix = uniqueKeyPrefix('gm-pace');
      const options = { key: 'AIzaShared', baseUrl: server.url, quotaPerMinute: 600, redis, redisKeyPrefix: prefix };
      const a = googleMapsClient(options);
      const b = googleMapsClient(options);
      const started = Date.now();
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).geocode({ address: `stall ${i}` })));
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(
        busiest(
          fake.requests.map((r) => r.at),
          1_000,
        ),
      ).toBeLessThanOrEqual(10);
      expect(fake.requests).toHaveLength(20);
    } finally {
      await server.close();
    }
  });
});

describe('when the body does not arrive (real sockets)', () => {
  const client = (baseUrl: string) =>
    googleMapsClient({
      key: 'AIzaBodySecret123',
      baseUrl,
      attempts: 2,
      baseDelayMs: 10,
      maxDelayMs: 20,
      retryBudget: false,
      timeoutMs: 300,
      breaker: false,
    });

  it('a body that stalls after the headers is unavailable for geocode, computeRoutes and computeRouteMatrix', async () => {
    const maps = client(await midBodyServer('stall'));
    const started = Date.now();
    for (const call of [
      () => maps.geocode({ address: 'Eiffel Tower' }),
      () => maps.computeRoutes({ origin: { address: 'a' }, destination: { address: 'b' } }),
      () => maps.computeRouteMatrix({ origins: [{ address: 'a' }], destinations: [{ address: 'b' }] }),
    ]) {
      const error = (await call().catch((e: unknown) => e)) as GoogleMapsError;
      expect(isGoogleMapsError(error)).toBe(true);
      expect(error.code).toBe('unavailable');
      expect(error.transient).toBe(true);
      expect(error.message).not.toContain('AIzaBodySecret123');
    }
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it('a connection broken mid-body is unavailable, not a bare TypeError', async () => {
    const maps = client(await midBodyServer('reset'));
    await expect(maps.computeRoutes({ origin: { address: 'a' }, destination: { address: 'b' } })).rejects.toMatchObject(
      { code: 'unavailable' },
    );
    await expect(maps.geocode({ address: 'Eiffel Tower' })).rejects.toMatchObject({ code: 'unavailable' });
  });
});
