import { createPGlite } from '@ballast/core/stores/pglite';
import { createPostgres } from '@ballast/core/stores/postgres';
import type { SqlClient } from '@ballast/core/stores/sql';
import { migrate } from '@ballast/core/stores/sql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../test-support/services';
import { memoryGeocodeStore } from './geocode-store';
import { geocodeStoreContract } from './geocode-store.contract';
import { sqlGeocodeStore } from './geocode-store-sql';

describe('memoryGeocodeStore', () => {
  geocodeStoreContract(async () => memoryGeocodeStore());

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const store = memoryGeocodeStore({ maxEntries: 2 });
    const e = { placeId: 'p', location: { lat: 1, lng: 2 }, locatedAt: 1, checkedAt: 1 };
    await store.setMany([
      ['a', e],
      ['b', e],
    ]);
    await store.get('a');
    await store.setMany([['c', e]]);
    expect(await store.get('b')).toBeUndefined();
    expect(await store.get('a')).toBeDefined();
    expect(store.size).toBe(2);
  });

  it('rejects a bad maxEntries', () => {
    for (const maxEntries of [0, -1, 1.5, Number.NaN]) {
      expect(() => memoryGeocodeStore({ maxEntries })).toThrow(expect.objectContaining({ code: 'invalid_options' }));
    }
  });
});

describe('sqlGeocodeStore', () => {
  it('rejects what is not a SQL client, a bad schema and a bad purge batch size', () => {
    const bad = expect.objectContaining({ name: 'GoogleMapsUsageError', code: 'invalid_options' });
    const db = { query: async () => ({ rows: [], rowCount: 0 }) };
    expect(() => sqlGeocodeStore({} as never)).toThrow(bad);
    expect(() => sqlGeocodeStore(null as never)).toThrow(bad);
    expect(() => sqlGeocodeStore(db, { schema: 'x; DROP TABLE y' })).toThrow(bad);
    expect(() => sqlGeocodeStore(db, { purgeBatchSize: 0 })).toThrow(bad);
  });
});

describe('sqlGeocodeStore [pglite]', () => {
  let db: SqlClient;
  beforeAll(async () => {
    db = await createPGlite();
    await migrate(db, { modules: ['geocode'] });
  });
  geocodeStoreContract(async () => sqlGeocodeStore(db, { purgeBatchSize: 2 }));
  afterAll(async () => db?.close());
});

describeWithPostgres('sqlGeocodeStore', (url) => {
  let db: SqlClient;
  const schema = uniqueSchema('geo');
  beforeAll(async () => {
    db = await createPostgres({ connectionString: url, max: 2 });
    await migrate(db, { schema, modules: ['geocode'] });
  });
  geocodeStoreContract(async () => sqlGeocodeStore(db, { schema, purgeBatchSize: 2 }));
  afterAll(async () => {
    await db?.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db?.close();
  });
});
