import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { describeWithPgBouncer } from '../../../../test-support/pgbouncer';
import {
  describeWithPostgres,
  describeWithRedis,
  uniqueKeyPrefix,
  uniqueSchema,
} from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { createPostgres } from '../stores/postgres';
import { createPostgresJs } from '../stores/postgresjs';
import type { SqlClient } from '../stores/sql';
import { memoryCache } from './cache-memory';
import { redisCache } from './cache-redis';
import { sqlCache } from './cache-sql';
import { cacheStoreContract } from './cache-store.contract';

describe('memoryCache', () => {
  cacheStoreContract(async () => memoryCache());

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const store = memoryCache({ maxEntries: 2 });
    const e = { status: 200, statusText: '', headers: [], body: new Uint8Array(), storedAt: 0, variant: '' };
    await store.set('a', e, 60_000);
    await store.set('b', e, 60_000);
    await store.get('a'); // a is now the most recent
    await store.set('c', e, 60_000);
    expect(await store.get('b')).toBeUndefined();
    expect(await store.get('a')).toBeDefined();
    expect(store.size).toBe(2);
  });

  it('rejects a bad maxEntries', () => {
    expect(() => memoryCache({ maxEntries: 0 })).toThrow(expect.objectContaining({ code: 'invalid_options' }));
  });
});

describe('store construction', () => {
  it('rejects what is not a SQL client or a Redis client, and a bad schema or prefix', () => {
    const bad = expect.objectContaining({ code: 'invalid_options' });
    expect(() => sqlCache({} as never)).toThrow(bad);
    expect(() => sqlCache({ query: async () => ({ rows: [], rowCount: 0 }) }, { schema: 'x; DROP' })).toThrow(bad);
    expect(() => redisCache(null as never)).toThrow(bad);
    expect(() => redisCache({ get: async () => null } as never)).toThrow(bad);
    const client = { get: async () => null, set: async () => 'OK', del: async () => 0 };
    expect(() => redisCache(client, { prefix: 1 as never })).toThrow(bad);
  });
});

describe('sqlCache [pglite]', () => {
  let db: SqlClient;
  cacheStoreContract(async () => {
    db = await createPGlite();
    await migrate(db, { modules: ['cache'] });
    return sqlCache(db);
  });
  afterAll(async () => db?.close());

  it('purges expired rows', async () => {
    const store = sqlCache(db);
    const e = { status: 200, statusText: '', headers: [], body: new Uint8Array([1]), storedAt: 0, variant: '' };
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      await store.set('gone', e, 1_000);
      await store.set('kept', e, 60_000);
      vi.setSystemTime(Date.now() + 1_001);
      expect(await store.purge()).toBeGreaterThanOrEqual(1);
      const left = await db.query<{ key: string }>(
        `SELECT key FROM ballast.cache_entries WHERE key IN ('gone', 'kept')`,
      );
      expect(left.rows.map((r) => r.key)).toEqual(['kept']);
    } finally {
      vi.useRealTimers();
    }
  });
});

describeWithPostgres('sqlCache', (url) => {
  let db: SqlClient;
  const schema = uniqueSchema('cache');
  cacheStoreContract(async () => {
    db = await createPostgres({ connectionString: url, max: 2 });
    await migrate(db, { schema, modules: ['cache'] });
    return sqlCache(db, { schema });
  });
  afterAll(async () => {
    await db?.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db?.close();
  });
});

describeWithPostgres('sqlCache on postgres.js', (url) => {
  let db: SqlClient;
  const schema = uniqueSchema('cachejs');
  cacheStoreContract(async () => {
    db = await createPostgresJs(url, { max: 2 });
    await migrate(db, { schema, modules: ['cache'] });
    return sqlCache(db, { schema });
  });
  afterAll(async () => {
    await db?.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db?.close();
  });
});

describeWithPgBouncer('sqlCache on postgres.js', (url) => {
  let db: SqlClient;
  const schema = uniqueSchema('cachepool');
  cacheStoreContract(async () => {
    db = await createPostgresJs(url, { max: 2 });
    await migrate(db, { schema, modules: ['cache'] });
    return sqlCache(db, { schema });
  });
  afterAll(async () => {
    await db?.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db?.close();
  });
});

describeWithRedis('redisCache', (url) => {
  let redis: Redis;
  cacheStoreContract(async () => {
    redis = new Redis(url);
    return redisCache(redis, { prefix: uniqueKeyPrefix('cache') });
  });
  afterAll(async () => {
    await redis?.quit();
  });
});
