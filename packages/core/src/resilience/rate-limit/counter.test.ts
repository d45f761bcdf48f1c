import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { describeWithRedis, uniqueKeyPrefix } from '../../../../../test-support/services';
import { memoryCounter, type RedisScriptClient, redisCounter, type SharedCounter } from '../index';
import { rejection } from '../test-support';

/** The behaviour every SharedCounter has. */
function counterContract(make: () => SharedCounter) {
  it('adds within a maximum, refusing (and not applying) what would pass it', async () => {
    const counter = make();
    expect(await counter.add('a', 10, { ttlMs: 60_000, max: 25 })).toEqual({ value: 10, applied: true });
    expect(await counter.add('a', 10, { ttlMs: 60_000, max: 25 })).toEqual({ value: 20, applied: true });
    expect(await counter.add('a', 10, { ttlMs: 60_000, max: 25 })).toEqual({ value: 20, applied: false });
    expect(await counter.add('a', 5, { ttlMs: 60_000, max: 25 })).toEqual({ value: 25, applied: true });
    expect(await counter.get('a')).toBe(25);
    expect(await counter.get('missing')).toBe(0);
  });

  it('keeps fractions, sets, and raises only upwards', async () => {
    const counter = make();
    await counter.add('f', 0.5, { ttlMs: 60_000 });
    await counter.add('f', 0.25, { ttlMs: 60_000 });
    expect(await counter.get('f')).toBe(0.75);
    await counter.set('f', 3, { ttlMs: 60_000 });
    expect(await counter.raise('f', 2, { ttlMs: 60_000 })).toBe(3);
    expect(await counter.raise('f', 1_765_000_000_000, { ttlMs: 60_000 })).toBe(1_765_000_000_000);
    expect(await counter.get('f')).toBe(1_765_000_000_000);
  });

  it('rejects a bad key, value or ttl', async () => {
    const counter = make();
    expect((await rejection(counter.add('', 1, { ttlMs: 1 }))).code).toBe('invalid_argument');
    expect((await rejection(counter.add('k', Number.NaN, { ttlMs: 1 }))).code).toBe('invalid_argument');
    expect((await rejection(counter.set('k', 1, { ttlMs: 0 }))).code).toBe('invalid_argument');
  });
}

describe('memoryCounter', () => {
  counterContract(memoryCounter);

  it('forgets a key after its time to live', async () => {
    vi.useFakeTimers();
    try {
      const counter = memoryCounter();
      await counter.add('t', 4, { ttlMs: 1000 });
      vi.advanceTimersByTime(999);
      expect(await counter.get('t')).toBe(4);
      vi.advanceTimersByTime(1);
      expect(await counter.get('t')).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('redisCounter: options and store errors (no server needed)', () => {
  const broken: RedisScriptClient = {
    eval: async () => {
      throw new Error('connection refused');
    },
    evalsha: async () => {
      throw new Error('connection refused');
    },
  };
  it('rejects a client without eval, and reports a Redis failure as store_failed', async () => {
    expect(() => redisCounter({ redis: {} as RedisScriptClient })).toThrow(/eval/);
    const error = await rejection(redisCounter({ redis: broken }).add('k', 1, { ttlMs: 10 }));
    expect(error.code).toBe('store_failed');
  });
});

describeWithRedis('redisCounter', (url) => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(url);
  });
  afterAll(async () => {
    await redis.quit();
  });

  counterContract(() => redisCounter({ redis, keyPrefix: uniqueKeyPrefix() }));

  it('two clients on one prefix share the count: concurrent adds never pass the maximum', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const other = new Redis(url);
    try {
      const a = redisCounter({ redis, keyPrefix });
      const b = redisCounter({ redis: other, keyPrefix });
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).add('budget', 3, { ttlMs: 60_000, max: 100 })),
      );
      expect(results.filter((r) => r.applied)).toHaveLength(33);
      expect(await a.get('budget')).toBe(99);
    } finally {
      await other.quit();
    }
  });

  it('expires keys by Redis’s clock', async () => {
    const counter = redisCounter({ redis, keyPrefix: uniqueKeyPrefix() });
    await counter.set('short', 5, { ttlMs: 30 });
    await new Promise((r) => setTimeout(r, 80));
    expect(await counter.get('short')).toBe(0);
  });
});
