import { expect, it } from 'vitest';
import type { GeocodeEntry, GeocodeStore } from './geocode-store';

const DAY = 86_400_000;

/** The behaviour every geocode store driver shares. `make` returns an empty store (keys unique per call). */
export function geocodeStoreContract(make: () => Promise<GeocodeStore>): void {
  const located = (placeId: string, at: number, lat = 48.8584, lng = 2.2945): GeocodeEntry => ({
    placeId,
    location: { lat, lng },
    locatedAt: at,
    checkedAt: at,
  });
  const empty = (at: number): GeocodeEntry => ({ placeId: null, location: null, locatedAt: null, checkedAt: at });
  let n = 0;
  const key = () => `test:${process.pid}:${Date.now()}:${n++}`;

  it('reads back what it wrote, exactly, and nothing for an unknown key', async () => {
    const store = await make();
    const [a, b, c] = [key(), key(), key()];
    await store.setMany([
      [a, located('ChIJ_a', 1_700_000_000_123, 40.7127753, -74.0059728)],
      [b, empty(1_700_000_000_456)],
    ]);
    expect(await store.get(a)).toEqual(located('ChIJ_a', 1_700_000_000_123, 40.7127753, -74.0059728));
    expect(await store.get(b)).toEqual(empty(1_700_000_000_456));
    expect(await store.get(c)).toBeUndefined();
    const many = await store.getMany([a, b, c]);
    expect([...many.keys()].sort()).toEqual([a, b].sort());
    expect(await store.getMany([])).toEqual(new Map());
  });

  it('replaces an entry, and the last of two writes of one key in a call wins', async () => {
    const store = await make();
    const a = key();
    await store.setMany([[a, located('ChIJ_old', 1)]]);
    await store.setMany([
      [a, located('ChIJ_mid', 2)],
      [a, located('ChIJ_new', 3, 1.5, 2.5)],
    ]);
    expect(await store.get(a)).toEqual(located('ChIJ_new', 3, 1.5, 2.5));
  });

  it('keeps a place id without coordinates (an entry whose coordinates were purged)', async () => {
    const store = await make();
    const a = key();
    const entry: GeocodeEntry = { placeId: 'ChIJ_kept', location: null, locatedAt: null, checkedAt: 5 };
    await store.setMany([[a, entry]]);
    expect(await store.get(a)).toEqual(entry);
  });

  it('purges coordinates past the limit but keeps their place ids, and forgets old empty answers', async () => {
    const store = await make();
    const t = 1_800_000_000_000;
    const [old, young, edge, oldEmpty, youngEmpty] = [key(), key(), key(), key(), key()];
    await store.setMany([
      [old, located('ChIJ_old', t - 31 * DAY)],
      [young, located('ChIJ_young', t - 29 * DAY)],
      [edge, located('ChIJ_edge', t - 30 * DAY)],
      [oldEmpty, empty(t - 2 * DAY)],
      [youngEmpty, empty(t - 1000)],
    ]);
    const result = await store.purge({ locatedBefore: t - 30 * DAY, emptyBefore: t - DAY });
    // other tests' rows may share the table: at least ours
    expect(result.coordinates).toBeGreaterThanOrEqual(2);
    expect(result.empty).toBeGreaterThanOrEqual(1);
    expect(await store.get(old)).toEqual({
      placeId: 'ChIJ_old',
      location: null,
      locatedAt: null,
      checkedAt: t - 31 * DAY,
    });
    expect(await store.get(edge)).toMatchObject({ placeId: 'ChIJ_edge', location: null, locatedAt: null });
    expect(await store.get(young)).toEqual(located('ChIJ_young', t - 29 * DAY));
    expect(await store.get(oldEmpty)).toBeUndefined();
    expect(await store.get(youngEmpty)).toEqual(empty(t - 1000));
    // a second purge finds nothing of ours left
    await store.purge({ locatedBefore: t - 30 * DAY, emptyBefore: t - DAY });
    expect(await store.get(old)).toMatchObject({ placeId: 'ChIJ_old', location: null });
  });

  it('returns copies: changing what it gave back changes nothing stored', async () => {
    const store = await make();
    const a = key();
    await store.setMany([[a, located('ChIJ_copy', 10, 1, 2)]]);
    const got = await store.get(a);
    if (got?.location) got.location.lat = 99;
    expect((await store.get(a))?.location).toEqual({ lat: 1, lng: 2 });
  });
}
