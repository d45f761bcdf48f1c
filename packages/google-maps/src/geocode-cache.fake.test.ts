import { createPGlite } from '@ballast/core/stores/pglite';
import { createPostgres } from '@ballast/core/stores/postgres';
import { migrate, type SqlClient } from '@ballast/core/stores/sql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, uniqueSchema } from '../../../test-support/services';
import { googleMapsClient } from './client';
import { type GeocodeCacheEvent, geocodeCache } from './geocode-cache';
import { type GeocodeStore, memoryGeocodeStore } from './geocode-store';
import { sqlGeocodeStore } from './geocode-store-sql';
import { normalizeGeocodeRequest } from './normalize';
import { createFakeGoogleMaps, type FakeOutage } from './testing/index';

/**
 * The cache in front of the real client, against the fake Google: outage
 * modes, quota bursts, definitive errors and the 30-day purge, on every
 * store (memory, PGlite, and Postgres when DATABASE_URL is set).
 */
const DAY = 86_400_000;
const EIFFEL = 'Champ de Mars, 5 Av. Anatole France, 75007 Paris, France';
const EIFFEL_ID = 'ChIJLU7jZClu5kcR4PcOOO6p3I0';

let worlds = 0;
function world(store: GeocodeStore, breaker: { failureThreshold: number } | false = false) {
  // tests share a store: each starts 100 days after the last, so no earlier test's entry is fresh
  const clock = { t: Date.UTC(2026, 11, 7) + worlds++ * 100 * DAY };
  const fake = createFakeGoogleMaps({ now: () => clock.t });
  const client = googleMapsClient({
    key: 'AIzaTest',
    fetch: fake.fetch,
    attempts: 2,
    baseDelayMs: 1,
    maxDelayMs: 2,
    timeoutMs: 50,
    breaker: breaker === false ? false : { ...breaker, cooldownMs: 60_000 },
  });
  const events: GeocodeCacheEvent[] = [];
  const cache = geocodeCache({
    client,
    store,
    refreshAfterMs: DAY,
    now: () => clock.t,
    onEvent: (e) => events.push(e),
  });
  return { clock, fake, cache, events, store };
}

const stores: Array<[string, () => Promise<GeocodeStore>]> = [['memory', async () => memoryGeocodeStore()]];
let pglite: SqlClient | undefined;
let postgres: SqlClient | undefined;
const schema = uniqueSchema('geofake');
stores.push([
  'pglite',
  async () => {
    if (!pglite) {
      pglite = await createPGlite();
      await migrate(pglite, { modules: ['geocode'] });
    }
    return sqlGeocodeStore(pglite);
  },
]);
const url = databaseUrl();
if (url) {
  stores.push([
    'postgres',
    async () => {
      if (!postgres) {
        postgres = await createPostgres({ connectionString: url, max: 2 });
        await migrate(postgres, { schema, modules: ['geocode'] });
      }
      return sqlGeocodeStore(postgres, { schema });
    },
  ]);
}
afterAll(async () => {
  await pglite?.close();
  await postgres?.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await postgres?.close();
});

describe.each(stores)('geocodeCache with the client and the fake Google [%s]', (_name, makeStore) => {
  let store: GeocodeStore;
  beforeAll(async () => {
    store = await makeStore();
  }, 60_000);

  const outages: FakeOutage[] = ['http_500', 'http_502', 'http_503', 'http_504', 'hang', 'refuse', 'unknown_error'];
  it.each(outages)('%s: serves cached coordinates stale with their age; a new address is unavailable', async (mode) => {
    const { clock, fake, cache } = world(store);
    const fresh = await cache.geocode(EIFFEL);
    expect(fresh).toMatchObject({ placeId: EIFFEL_ID, source: 'google', location: { lat: 48.8583701 } });
    clock.t += 2 * DAY;
    fake.outage(mode);
    expect(await cache.geocode(EIFFEL)).toEqual({
      ...fresh,
      source: 'cache',
      stale: true,
      ageMs: 2 * DAY,
    });
    const unseen = `${Math.random()} Unseen Road, Springfield`;
    await expect(cache.geocode(unseen)).rejects.toMatchObject({
      name: 'GoogleMapsUnavailableError',
      code: 'unavailable',
    });
    await cache.flush();
    expect(await store.get(normalizeGeocodeRequest(unseen).key)).toBeUndefined();
  });

  it('opens the breaker after N consecutive failures; then a new address fails at once, nothing sent', async () => {
    const { clock, fake, cache } = world(store, { failureThreshold: 3 });
    await cache.geocode(EIFFEL);
    clock.t += 2 * DAY;
    fake.outage('http_503');
    // each lookup is one failed call (2 attempts): the breaker opens on the third consecutive failure
    for (let i = 0; i < 2; i++) expect(await cache.geocode(EIFFEL)).toMatchObject({ stale: true });
    const sent = fake.requests.length;
    for (let i = 0; i < 5; i++) expect(await cache.geocode(EIFFEL)).toMatchObject({ stale: true });
    const unseen = `${Math.random()} Unseen Road, Springfield`;
    await expect(cache.geocode(unseen)).rejects.toMatchObject({ code: 'unavailable' });
    expect(fake.requests.length - sent).toBeLessThanOrEqual(1); // at most the call that opened it
  });

  it('absorbs a quota burst (HTTP 200 + OVER_QUERY_LIMIT): retried, and only the OK answer is stored', async () => {
    const { fake, cache } = world(store);
    const address = `${Math.random()} Burst Avenue, Springfield`;
    fake.outage('over_query_limit', { times: 1 });
    const hit = await cache.geocode(address);
    expect(hit).toMatchObject({ source: 'google', stale: false });
    expect(fake.requests.map((r) => [r.httpStatus, r.status])).toEqual([
      [200, 'OVER_QUERY_LIMIT'],
      [200, 'OK'],
    ]);
    await cache.flush();
    expect(await store.get(normalizeGeocodeRequest(address).key)).toMatchObject({ placeId: hit?.placeId });
  });

  it('never caches a quota burst that outlasts the retries; the next lookup asks again', async () => {
    const { fake, cache } = world(store);
    const address = `${Math.random()} Burst Avenue, Springfield`;
    fake.outage('over_query_limit');
    await expect(cache.geocode(address)).rejects.toMatchObject({ code: 'rate_limited' });
    await cache.flush();
    expect(await store.get(normalizeGeocodeRequest(address).key)).toBeUndefined();
    fake.outage(null);
    expect(await cache.geocode(address)).toMatchObject({ source: 'google' });
  });

  it.each([
    ['request_denied', 'denied'],
    ['over_daily_limit', 'over_daily_limit'],
  ] as const)('%s: rethrown even with coordinates cached, never stored', async (mode, code) => {
    const { clock, fake, cache } = world(store);
    await cache.geocode(EIFFEL);
    clock.t += 2 * DAY;
    fake.outage(mode);
    await expect(cache.geocode(EIFFEL)).rejects.toMatchObject({ code });
    const address = `${Math.random()} Denied Street, Springfield`;
    await expect(cache.geocode(address)).rejects.toMatchObject({ code });
    await cache.flush();
    expect(await store.get(normalizeGeocodeRequest(address).key)).toBeUndefined();
  });

  it('after a clock jump past 30 days: the purge deletes the coordinates, keeps the place id, and the next lookup refreshes by place id', async () => {
    const { clock, fake, cache } = world(store);
    const key = normalizeGeocodeRequest(EIFFEL).key;
    await cache.geocode(EIFFEL);
    clock.t += 31 * DAY;
    const purged = await cache.purge();
    expect(purged.coordinates).toBeGreaterThanOrEqual(1);
    expect(await store.get(key)).toMatchObject({ placeId: EIFFEL_ID, location: null, locatedAt: null });
    // with Google down there is nothing left to serve
    fake.outage('http_503');
    await expect(cache.geocode(EIFFEL)).rejects.toMatchObject({ code: 'unavailable' });
    fake.outage(null);
    fake.reset();
    const refreshed = await cache.geocode(EIFFEL);
    expect(refreshed).toMatchObject({ placeId: EIFFEL_ID, source: 'google', ageMs: 0, location: { lat: 48.8583701 } });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.path).toContain(`place_id=${EIFFEL_ID}`);
    expect(fake.requests[0]?.path).not.toContain('address=');
    expect(await store.get(key)).toMatchObject({ locatedAt: clock.t, location: { lat: 48.8583701 } });
  });

  it('batch: 30% duplicates, hits without a call, one call per distinct uncached address, resumable', async () => {
    const { clock, fake, cache } = world(store);
    const run = Math.random().toString(36).slice(2);
    const distinct = Array.from({ length: 70 }, (_, i) => `${i + 1} Batch Street ${run}, Springfield`);
    const addresses = [...distinct, ...distinct.slice(0, 30).map((a) => a.toUpperCase())];
    await cache.geocodeMany(distinct.slice(0, 10));
    fake.reset();
    const report = await cache.geocodeMany(addresses);
    expect(report.stats).toMatchObject({ total: 100, distinct: 70, hits: 10 + 10, calls: 60, failed: 0 });
    expect(fake.requests).toHaveLength(60);
    expect(new Set(fake.requests.map((r) => r.address)).size).toBe(60);
    // a second process on the same store calls nothing
    const again = geocodeCache({
      client: googleMapsClient({ key: 'AIzaTest', fetch: fake.fetch }),
      store,
      now: () => clock.t,
    });
    const rerun = await again.geocodeMany(addresses);
    expect(rerun.stats).toMatchObject({ hits: 100, calls: 0 });
    expect(fake.requests).toHaveLength(60);
  });
});

describe('geocodeCache over real sockets and real time', () => {
  it('while Google hangs, the open breaker answers at once: stale for a cached address, unavailable for a new one', async () => {
    const fake = createFakeGoogleMaps();
    const server = await fake.listen();
    try {
      const timeoutMs = 400;
      const client = googleMapsClient({
        key: 'AIzaTest',
        baseUrl: server.url,
        attempts: 1,
        timeoutMs,
        breaker: { failureThreshold: 2, cooldownMs: 60_000 },
      });
      const cache = geocodeCache({ client, refreshAfterMs: 1 });
      await cache.geocode(EIFFEL);
      await new Promise((r) => setTimeout(r, 5));
      fake.outage('hang');
      // two lookups wait out the timeout and open the breaker; the cached one is served stale
      expect(await cache.geocode(EIFFEL)).toMatchObject({ stale: true });
      await expect(cache.geocode('1 First Unseen Road, Springfield')).rejects.toMatchObject({ code: 'unavailable' });
      const sent = fake.requests.length;
      const t0 = performance.now();
      expect(await cache.geocode(EIFFEL)).toMatchObject({ stale: true, source: 'cache' });
      await expect(cache.geocode('2 Second Unseen Road, Springfield')).rejects.toMatchObject({
        code: 'unavailable',
      });
      // no wait for a timeout: the breaker refused before anything was sent
      expect(performance.now() - t0).toBeLessThan(timeoutMs);
      expect(fake.requests.length).toBe(sent);
    } finally {
      await server.close();
    }
  });
});
