import { type CachedResponse, type CacheStore, fromBase64, toBase64 } from './cache-store';
import { ResilienceError } from './errors';

/** The few ioredis methods {@link redisCache} uses (an ioredis `Redis` or `Cluster` fits). */
export interface RedisCacheClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, mode: 'PX', milliseconds: number): Promise<unknown>;
  del(key: string): Promise<number>;
}

/** Options of {@link redisCache}. */
export interface RedisCacheOptions {
  /**
   * Prepended to every key.
   * @default 'ballast:cache:'
   */
  prefix?: string;
}

interface Stored {
  s: number;
  t: string;
  h: Array<[string, string]>;
  b: string;
  at: number;
  /** The entry's variant; absent in entries written before it existed. */
  v?: string;
}

/**
 * A cache store in Redis, shared by every process using it. Redis expires
 * entries itself when their retention passes.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * const fetch = resilientFetch({ cache: { store: redisCache(new Redis('redis://127.0.0.1:6379')) } });
 * ```
 */
export function redisCache(redis: RedisCacheClient, options: RedisCacheOptions = {}): CacheStore {
  const client = redis as Partial<RedisCacheClient> | null;
  if (typeof client?.get !== 'function' || typeof client.set !== 'function' || typeof client.del !== 'function') {
    throw new ResilienceError('redisCache', 'invalid_options', 'redis must be an ioredis client (get, set, del)');
  }
  const prefix = options.prefix ?? 'ballast:cache:';
  if (typeof prefix !== 'string') {
    throw new ResilienceError('redisCache', 'invalid_options', 'prefix must be a string');
  }
  return {
    async get(key) {
      const raw = await redis.get(prefix + key);
      if (raw === null) return undefined;
      const v = JSON.parse(raw) as Stored;
      const entry: CachedResponse = {
        status: v.s,
        statusText: v.t,
        headers: v.h,
        body: fromBase64(v.b),
        storedAt: v.at,
        variant: v.v ?? '',
      };
      return entry;
    },
    async set(key, entry, retainMs) {
      const v: Stored = {
        s: entry.status,
        t: entry.statusText,
        h: entry.headers,
        b: toBase64(entry.body),
        at: entry.storedAt,
        v: entry.variant,
      };
      await redis.set(prefix + key, JSON.stringify(v), 'PX', Math.max(1, Math.ceil(retainMs)));
    },
    async delete(key) {
      await redis.del(prefix + key);
    },
  };
}
