import type { ResilienceEvent } from '@ballast/core/resilience';
import { secret } from '@ballast/core/vault';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { googleMapsClient } from './client';
import { createFakeGoogleMaps } from './testing';

const KEY = 'AIzaResilienceKey';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Settles `promise` while advancing fake time in steps. */
async function settle<T>(promise: Promise<T>, stepMs = 100, maxMs = 600_000): Promise<T> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let t = 0; !done && t < maxMs; t += stepMs) await vi.advanceTimersByTimeAsync(stepMs);
  return promise;
}

// A hang that times out per attempt is tested over real sockets (client.sockets.test.ts).
describe('unavailable: the breaker', () => {
  it('the breaker opens after 5 failures in a row; then calls fail at once without a request, until Google is back', async () => {
    const fake = createFakeGoogleMaps();
    const events: ResilienceEvent[] = [];
    const maps = googleMapsClient({
      key: KEY,
      fetch: fake.fetch,
      retryBudget: false,
      attempts: 1,
      breaker: { failureThreshold: 5, cooldownMs: 30_000 },
      onEvent: (e) => events.push(e),
    });
    fake.outage('http_500');
    for (let i = 0; i < 5; i++)
      await expect(maps.geocode({ address: `store ${i}` })).rejects.toMatchObject({
        code: 'unavailable',
        httpStatus: 500,
      });
    expect(events.some((e) => e.type === 'breaker.open')).toBe(true);
    const refused = await maps.geocode({ address: 'store 6' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'unavailable', transient: true, httpStatus: undefined });
    expect((refused as { waitMs?: number }).waitMs).toBeGreaterThan(0);
    expect(fake.requests).toHaveLength(5);

    fake.outage(null);
    await vi.advanceTimersByTimeAsync(30_001);
    await expect(maps.geocode({ address: 'store 6' })).resolves.toMatchObject({ status: 'OK' });
    expect(events.some((e) => e.type === 'breaker.close')).toBe(true);
  });

  it('OVER_QUERY_LIMIT bursts are not breaker failures', async () => {
    const fake = createFakeGoogleMaps();
    const maps = googleMapsClient({
      key: KEY,
      fetch: fake.fetch,
      retryBudget: false,
      attempts: 1,
      breaker: { failureThreshold: 2 },
    });
    fake.outage('over_query_limit', { times: 4 });
    for (let i = 0; i < 4; i++)
      await expect(maps.geocode({ address: `shop ${i}` })).rejects.toMatchObject({ code: 'rate_limited' });
    await expect(maps.geocode({ address: 'shop 5' })).resolves.toMatchObject({ status: 'OK' });
  });

  it('OVER_QUERY_LIMIT waits a growing backoff before each retry', async () => {
    const fake = createFakeGoogleMaps();
    const events: ResilienceEvent[] = [];
    const maps = googleMapsClient({
      key: KEY,
      fetch: fake.fetch,
      retryBudget: false,
      onEvent: (e) => events.push(e),
    });
    fake.outage('over_query_limit', { times: 3 });
    await settle(maps.geocode({ address: 'Eiffel Tower' }));
    const retries = events.filter((e) => e.type === 'retry');
    expect(retries.map((e) => (e.type === 'retry' ? e.delaySource : ''))).toEqual(['backoff', 'backoff', 'backoff']);
    expect(fake.requests.map((r) => r.status)).toEqual([
      'OVER_QUERY_LIMIT',
      'OVER_QUERY_LIMIT',
      'OVER_QUERY_LIMIT',
      'OK',
    ]);
  });
});

describe('the key stays secret', () => {
  it('events show the URL with key=redacted; errors never carry it', async () => {
    const fake = createFakeGoogleMaps();
    const events: ResilienceEvent[] = [];
    const maps = googleMapsClient({
      key: secret('AIzaVerySecretValue'),
      fetch: fake.fetch,
      retryBudget: false,
      attempts: 2,
      onEvent: (e) => events.push(e),
    });
    fake.outage('refuse');
    const error = await settle(maps.geocode({ address: 'Eiffel Tower' }).catch((e: unknown) => e));
    const urls = events.map((e) => e.url).filter(Boolean);
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) expect(url).toContain('key=redacted');
    const dump = JSON.stringify({ events, error, message: String(error), cause: String((error as Error).cause) });
    expect(dump).not.toContain('AIzaVerySecretValue');
  });
});

describe('single flight', () => {
  it('a caller that aborts stops waiting; the others still get the answer from the one call', async () => {
    const fake = createFakeGoogleMaps({ latencyMs: 1_000 });
    const maps = googleMapsClient({ key: KEY, fetch: fake.fetch, retryBudget: false });
    const leaving = new AbortController();
    const first = maps.geocode({ address: 'Eiffel Tower' }, { signal: leaving.signal });
    const second = maps.geocode({ address: 'eiffel tower' });
    const firstOutcome = first.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    leaving.abort(new Error('user left'));
    expect(await firstOutcome).toMatchObject({ message: 'user left' });
    await vi.advanceTimersByTimeAsync(1_000);
    await expect(second).resolves.toMatchObject({ status: 'OK' });
    expect(fake.requests).toHaveLength(1);
  });

  it('when every caller aborts, the call is aborted too', async () => {
    const fake = createFakeGoogleMaps();
    const maps = googleMapsClient({ key: KEY, fetch: fake.fetch, retryBudget: false, timeoutMs: 60_000 });
    fake.outage('hang');
    const a = new AbortController();
    const b = new AbortController();
    const one = maps.geocode({ address: 'Eiffel Tower' }, { signal: a.signal }).catch((e: unknown) => e);
    const two = maps.geocode({ address: 'Eiffel Tower' }, { signal: b.signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    a.abort(new Error('a'));
    b.abort(new Error('b'));
    expect(await one).toMatchObject({ message: 'a' });
    expect(await two).toMatchObject({ message: 'b' });
    fake.outage(null);
    await expect(maps.geocode({ address: 'Eiffel Tower' })).resolves.toMatchObject({ status: 'OK' });
    expect(fake.requests).toHaveLength(2);
  });

  it('an aborted signal rejects at once with its reason', async () => {
    const fake = createFakeGoogleMaps();
    const maps = googleMapsClient({ key: KEY, fetch: fake.fetch });
    const reason = new Error('already gone');
    await expect(maps.geocode({ address: 'x' }, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('pacing to the quota', () => {
  it('3,000 a minute is 50 a second: the 51st call waits for the next second', async () => {
    const fake = createFakeGoogleMaps();
    const maps = googleMapsClient({ key: KEY, fetch: fake.fetch });
    const calls = Array.from({ length: 120 }, (_, i) => maps.geocode({ address: `warehouse ${i}` }));
    await vi.advanceTimersByTimeAsync(10);
    expect(fake.requests).toHaveLength(50);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fake.requests).toHaveLength(100);
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all(calls);
    expect(fake.requests).toHaveLength(120);
    expect(fake.requests.every((r) => r.status === 'OK')).toBe(true);
  });

  it('a configured quota paces below it; the fake never sees more than the quota in any minute', async () => {
    const fake = createFakeGoogleMaps({ quotaPerMinute: 120 });
    const maps = googleMapsClient({ key: KEY, fetch: fake.fetch, quotaPerMinute: 120 });
    expect(maps.quota).toEqual({ limit: 120, intervalMs: 60_000 });
    const calls = Array.from({ length: 300 }, (_, i) => maps.geocode({ address: `depot ${i}` }));
    await settle(Promise.all(calls), 500);
    expect(fake.requests.every((r) => r.status === 'OK')).toBe(true);
    expect(fake.maxPerMinute('geocoding')).toBeLessThanOrEqual(120);
    expect(fake.requests).toHaveLength(300);
  });

  it('a route matrix spends its element count', async () => {
    const fake = createFakeGoogleMaps();
    const maps = googleMapsClient({ key: KEY, fetch: fake.fetch, quotaPerMinute: { routeMatrixElements: 60 } });
    const p = { location: { latLng: { latitude: 1, longitude: 1 } } };
    const matrix = { origins: [p, p, p, p, p], destinations: [p, p, p, p, p, p] }; // 30 elements
    const all = [1, 2, 3].map((i) =>
      maps.computeRouteMatrix({ ...matrix, departureTime: new Date(Date.now() + i * 3_600_000) }),
    );
    await vi.advanceTimersByTimeAsync(10);
    expect(fake.requests).toHaveLength(2);
    await settle(Promise.all(all), 1_000);
    expect(fake.requests).toHaveLength(3);
    expect(fake.maxPerMinute('routeMatrix')).toBeLessThanOrEqual(60);
  });
});
