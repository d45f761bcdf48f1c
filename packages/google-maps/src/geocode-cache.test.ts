import { describe, expect, it, vi } from 'vitest';
import { GEOCODE_COORDINATES_MAX_MS, type GeocodeCacheEvent, geocodeCache } from './geocode-cache';
import { stubGeocoder } from './geocode-cache.test-support';
import { type GeocodeStore, memoryGeocodeStore } from './geocode-store';
import { normalizeGeocodeRequest } from './normalize';

const DAY = 86_400_000;
const EIFFEL = { placeId: 'ChIJ_eiffel', location: { lat: 48.8584, lng: 2.2945 } };
const LOUVRE = { placeId: 'ChIJ_louvre', location: { lat: 48.8606, lng: 2.3376 } };
const PLACES = { 'Champ de Mars, Paris': EIFFEL, 'Rue de Rivoli, Paris': LOUVRE };

function setup(options: Partial<Parameters<typeof geocodeCache>[0]> = {}) {
  const client = stubGeocoder(structuredClone(PLACES));
  const store = memoryGeocodeStore();
  const clock = { t: 1_800_000_000_000 };
  const events: GeocodeCacheEvent[] = [];
  const cache = geocodeCache({ client, store, now: () => clock.t, onEvent: (e) => events.push(e), ...options });
  return { client, store, clock, events, cache };
}

describe('geocodeCache: hits and misses', () => {
  it('asks Google once, then serves equivalent spellings from the cache', async () => {
    const { client, cache } = setup();
    const first = await cache.geocode('Champ de Mars, Paris');
    expect(first).toEqual({ ...EIFFEL, source: 'google', stale: false, ageMs: 0, locatedAt: 1_800_000_000_000 });
    for (const spelling of ['champ de mars ,PARIS', { address: '  Champ  de Mars, paris' }]) {
      expect(await cache.geocode(spelling)).toMatchObject({ ...EIFFEL, source: 'cache', stale: false });
    }
    expect(client.calls).toHaveLength(1);
  });

  it('serves a repeated string from memory without reading the store', async () => {
    const { cache, store } = setup();
    await cache.geocode('Champ de Mars, Paris');
    const get = vi.spyOn(store, 'get');
    await cache.geocode('Champ de Mars, Paris');
    await cache.geocode('Champ de Mars, Paris');
    expect(get).not.toHaveBeenCalled();
  });

  it('finds in the store what another process stored (a fresh cache, the same store)', async () => {
    const { client, store, clock, cache } = setup();
    await cache.geocode('Champ de Mars, Paris');
    const other = geocodeCache({ client, store, now: () => clock.t + 1000 });
    expect(await other.geocode('champ de mars, paris')).toMatchObject({ source: 'cache', ageMs: 1000 });
    expect(client.calls).toHaveLength(1);
  });

  it('gives coordinates callers cannot change in the cache', async () => {
    const { cache } = setup();
    await cache.geocode('Champ de Mars, Paris');
    const hit = await cache.geocode('Champ de Mars, Paris');
    expect(() => {
      (hit as { location: { lat: number } }).location.lat = 0;
    }).toThrow(TypeError);
  });

  it('answers null for no result, remembers it for emptyTtlMs, then asks again', async () => {
    const { client, clock, cache } = setup({ emptyTtlMs: DAY });
    expect(await cache.geocode('Nowhere Lane 404')).toBeNull();
    expect(await cache.geocode('nowhere lane 404')).toBeNull();
    expect(client.calls).toHaveLength(1);
    clock.t += DAY;
    expect(await cache.geocode('Nowhere Lane 404')).toBeNull();
    expect(client.calls).toHaveLength(2);
  });

  it('makes one call for concurrent lookups of one normalized request', async () => {
    const { client, cache } = setup();
    client.delay(20);
    const answers = await Promise.all(
      ['Champ de Mars, Paris', 'CHAMP DE MARS, PARIS', ' champ de mars,paris', { address: 'Champ de Mars, Paris' }].map(
        (r) => cache.geocode(r),
      ),
    );
    expect(answers.map((a) => a?.placeId)).toEqual(Array(4).fill(EIFFEL.placeId));
    expect(client.calls).toHaveLength(1);
  });

  it('rejects a request that cannot be geocoded before any call', async () => {
    const { client, cache } = setup();
    for (const bad of ['', { latlng: { lat: 100, lng: 0 } }, { address: 'x', placeId: 'y' }]) {
      await expect(cache.geocode(bad as never)).rejects.toMatchObject({
        name: 'GoogleMapsUsageError',
        code: 'invalid_params',
      });
    }
    expect(client.calls).toHaveLength(0);
  });

  it('stops waiting when the caller aborts, and still stores the answer', async () => {
    const { client, cache, store } = setup();
    client.delay(30);
    const controller = new AbortController();
    const pending = cache.geocode('Champ de Mars, Paris', { signal: controller.signal });
    controller.abort(new Error('user left'));
    await expect(pending).rejects.toThrow('user left');
    await new Promise((r) => setTimeout(r, 50));
    await cache.flush();
    expect(await store.get(normalizeGeocodeRequest('Champ de Mars, Paris').key)).toMatchObject({
      placeId: EIFFEL.placeId,
    });
  });
});

describe('geocodeCache: the terms (30 days, place ids kept)', () => {
  it('refuses limits above the terms with terms_exceeded, and bad limits with invalid_options', () => {
    const client = stubGeocoder();
    expect(() => geocodeCache({ client, coordinatesTtlMs: GEOCODE_COORDINATES_MAX_MS + 1 })).toThrow(
      expect.objectContaining({ name: 'GeocodeCacheError', code: 'terms_exceeded' }),
    );
    const bad = expect.objectContaining({ code: 'invalid_options' });
    expect(() => geocodeCache({ client, refreshAfterMs: 31 * DAY })).toThrow(bad);
    expect(() => geocodeCache({ client, coordinatesTtlMs: DAY, refreshAfterMs: 2 * DAY })).toThrow(bad);
    expect(() => geocodeCache({ client, coordinatesTtlMs: 0 })).toThrow(bad);
    expect(() => geocodeCache({ client, emptyTtlMs: -1 })).toThrow(bad);
    expect(() => geocodeCache({ client, memory: { maxEntries: -1 } })).toThrow(bad);
    expect(() => geocodeCache({ client, concurrency: 0 })).toThrow(bad);
    expect(() => geocodeCache({ client: {} as never })).toThrow(bad);
    expect(() => geocodeCache({ client, store: {} as never })).toThrow(bad);
    expect(() => geocodeCache(undefined as never)).toThrow(bad);
    // lower limits are fine, and a lower TTL lowers the default refresh
    expect(geocodeCache({ client, coordinatesTtlMs: 3 * DAY }).limits).toEqual({
      refreshAfterMs: 3 * DAY,
      coordinatesTtlMs: 3 * DAY,
      emptyTtlMs: DAY,
    });
  });

  it('refreshes by place id (not by address) after refreshAfterMs, and serves the new coordinates', async () => {
    const { client, clock, cache, events } = setup({ refreshAfterMs: 7 * DAY });
    await cache.geocode('Champ de Mars, Paris');
    clock.t += 7 * DAY - 1;
    expect(await cache.geocode('Champ de Mars, Paris')).toMatchObject({ source: 'cache' });
    client.move(EIFFEL.placeId, { lat: 48.85837, lng: 2.29448 });
    clock.t += 1;
    expect(await cache.geocode('Champ de Mars, Paris')).toMatchObject({
      source: 'google',
      location: { lat: 48.85837, lng: 2.29448 },
    });
    expect(client.calls).toEqual([{ address: 'Champ de Mars, Paris' }, { placeId: EIFFEL.placeId }]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'geocode.refresh', by: 'place_id' }));
  });

  it('purges coordinates past 30 days but keeps the place id, then refreshes by it', async () => {
    const { client, clock, cache, store } = setup();
    await cache.geocode('Champ de Mars, Paris');
    await cache.geocode('Nowhere Lane 404');
    const key = normalizeGeocodeRequest('Champ de Mars, Paris').key;
    clock.t += 30 * DAY;
    expect(await cache.purge()).toEqual({ coordinates: 1, empty: 1 });
    expect(await store.get(key)).toEqual({
      placeId: EIFFEL.placeId,
      location: null,
      locatedAt: null,
      checkedAt: 1_800_000_000_000,
    });
    const hit = await cache.geocode('Champ de Mars, Paris');
    expect(hit).toMatchObject({ placeId: EIFFEL.placeId, source: 'google', ageMs: 0 });
    expect(client.calls.at(-1)).toEqual({ placeId: EIFFEL.placeId });
    expect(await store.get(key)).toMatchObject({ location: EIFFEL.location, locatedAt: clock.t });
  });

  it('never serves coordinates past the limit, even before the purge has run', async () => {
    const { client, clock, cache } = setup();
    await cache.geocode('Champ de Mars, Paris');
    clock.t += 30 * DAY;
    client.mode('down');
    await expect(cache.geocode('Champ de Mars, Paris')).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('asks by address when the stored place id no longer resolves', async () => {
    const { client, clock, cache, events } = setup({ refreshAfterMs: DAY });
    await cache.geocode('Champ de Mars, Paris');
    client.forget(EIFFEL.placeId);
    clock.t += 2 * DAY;
    expect(await cache.geocode('Champ de Mars, Paris')).toMatchObject({ source: 'google' });
    expect(client.calls.slice(1)).toEqual([{ placeId: EIFFEL.placeId }, { address: 'Champ de Mars, Paris' }]);
    expect(events.filter((e) => e.type === 'geocode.refresh').map((e) => (e as { by: string }).by)).toEqual([
      'place_id',
      'request',
    ]);
  });
});

describe('geocodeCache: when Google cannot answer', () => {
  it('serves cached coordinates past refreshAfterMs marked stale, with their age', async () => {
    const { client, clock, cache, events, store } = setup({ refreshAfterMs: DAY });
    await cache.geocode('Champ de Mars, Paris');
    clock.t += 3 * DAY;
    for (const mode of ['down', 'rate_limited'] as const) {
      client.mode(mode);
      const hit = await cache.geocode('Champ de Mars, Paris');
      expect(hit).toEqual({ ...EIFFEL, source: 'cache', stale: true, ageMs: 3 * DAY, locatedAt: 1_800_000_000_000 });
    }
    expect(events.filter((e) => e.type === 'geocode.stale')).toHaveLength(2);
    // nothing was written: the entry keeps its age
    expect(await store.get(normalizeGeocodeRequest('Champ de Mars, Paris').key)).toMatchObject({
      locatedAt: 1_800_000_000_000,
    });
  });

  it('rejects an address never seen with the client’s unavailable error', async () => {
    const { client, cache } = setup();
    client.mode('down');
    await expect(cache.geocode('Rue de Rivoli, Paris')).rejects.toMatchObject({
      name: 'StubMapsError',
      code: 'unavailable',
    });
  });

  it('rethrows definitive errors even with coordinates to serve, and caches nothing', async () => {
    const { client, clock, cache, store } = setup({ refreshAfterMs: DAY });
    await cache.geocode('Champ de Mars, Paris');
    clock.t += 2 * DAY;
    for (const mode of ['denied', 'over_daily_limit'] as const) {
      client.mode(mode);
      await expect(cache.geocode('Champ de Mars, Paris')).rejects.toMatchObject({ code: mode });
      await expect(cache.geocode('Rue de Rivoli, Paris')).rejects.toMatchObject({ code: mode });
    }
    await cache.flush();
    expect(await store.get(normalizeGeocodeRequest('Rue de Rivoli, Paris').key)).toBeUndefined();
  });

  it('answers from Google when the store cannot be read, and reports it', async () => {
    const store = memoryGeocodeStore();
    const broken: GeocodeStore = {
      ...store,
      get: async () => {
        throw new Error('connection refused');
      },
      setMany: async () => {
        throw new Error('connection refused');
      },
    };
    const events: GeocodeCacheEvent[] = [];
    const cache = geocodeCache({
      client: stubGeocoder(PLACES),
      store: broken,
      memory: false,
      onEvent: (e) => events.push(e),
    });
    expect(await cache.geocode('Champ de Mars, Paris')).toMatchObject({ placeId: EIFFEL.placeId, source: 'google' });
    expect(events.map((e) => e.type)).toEqual(['geocode.store_error', 'geocode.store_error']);
  });
});

describe('geocodeCache: clocks of several processes', () => {
  it('takes an entry written by a clock up to a minute ahead as fresh (age 0), one further ahead as suspect', async () => {
    const { client, store, clock } = setup();
    const key = normalizeGeocodeRequest('Champ de Mars, Paris').key;
    const cache = geocodeCache({ client, store, now: () => clock.t, memory: false });
    await store.setMany([[key, { ...EIFFEL, locatedAt: clock.t + 30_000, checkedAt: clock.t + 30_000 }]]);
    expect(await cache.geocode('Champ de Mars, Paris')).toMatchObject({ source: 'cache', ageMs: 0 });
    await store.setMany([[key, { ...EIFFEL, locatedAt: clock.t + 3_600_000, checkedAt: clock.t + 3_600_000 }]]);
    expect(await cache.geocode('Champ de Mars, Paris')).toMatchObject({ source: 'google' });
    expect(client.calls).toHaveLength(1);
  });
});
