/**
 * A numeric counter per key with a time to live, in process memory or shared
 * through Redis: what a provider package needs to share a daily budget or a
 * "stopped until" time between processes. Each operation is atomic (one Lua
 * script in Redis).
 */
import { RateLimitError } from './errors';
import type { RedisScriptClient } from './redis';

/** A counter per key; every write (re)sets the key's time to live. */
export interface SharedCounter {
  /**
   * Adds `delta` to the key's value, unless that would take it above `max`:
   * then nothing changes and `applied` is false. A missing key counts as 0.
   */
  add(
    key: string,
    delta: number,
    options: { ttlMs: number; max?: number },
  ): Promise<{ value: number; applied: boolean }>;
  /** Sets the key's value. */
  set(key: string, value: number, options: { ttlMs: number }): Promise<void>;
  /** Sets the key's value to `value` when that is higher; resolves with the value in force. */
  raise(key: string, value: number, options: { ttlMs: number }): Promise<number>;
  /** The key's value, 0 when missing or expired. */
  get(key: string): Promise<number>;
}

/** Options of {@link redisCounter}. */
export interface RedisCounterOptions {
  /** The Redis client (ioredis). */
  redis: RedisScriptClient;
  /**
   * Prefix of every key.
   * @default 'ballast:counter:'
   */
  keyPrefix?: string;
}

const API = 'redisCounter';

function check(key: unknown, value: unknown, ttlMs: unknown): void {
  if (typeof key !== 'string' || key === '')
    throw new RateLimitError(API, 'invalid_argument', 'key must be a non-empty string');
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new RateLimitError(API, 'invalid_argument', 'the value must be a finite number');
  if (typeof ttlMs !== 'number' || !(ttlMs > 0) || !Number.isFinite(ttlMs))
    throw new RateLimitError(API, 'invalid_argument', 'ttlMs must be a positive number');
}

/**
 * A {@link SharedCounter} in this process's memory (expired keys are dropped
 * when read).
 * @example
 * ```ts
 * const counter = memoryCounter();
 * const { applied } = await counter.add('budget:2026-12-07', 10, { ttlMs: 86_400_000, max: 30_000 });
 * ```
 */
export function memoryCounter(): SharedCounter {
  const values = new Map<string, { value: number; expiresAt: number }>();
  const read = (key: string): number => {
    const entry = values.get(key);
    if (entry === undefined) return 0;
    if (entry.expiresAt <= Date.now()) {
      values.delete(key);
      return 0;
    }
    return entry.value;
  };
  const write = (key: string, value: number, ttlMs: number) => {
    values.set(key, { value, expiresAt: Date.now() + ttlMs });
    if (values.size > 10_000) for (const k of values.keys()) read(k);
  };
  return {
    async add(key, delta, { ttlMs, max }) {
      check(key, delta, ttlMs);
      const current = read(key);
      const next = current + delta;
      if (max !== undefined && next > max) return { value: current, applied: false };
      write(key, next, ttlMs);
      return { value: next, applied: true };
    },
    async set(key, value, { ttlMs }) {
      check(key, value, ttlMs);
      write(key, value, ttlMs);
    },
    async raise(key, value, { ttlMs }) {
      check(key, value, ttlMs);
      const current = read(key);
      if (value <= current && values.has(key)) return current;
      write(key, value, ttlMs);
      return value;
    },
    async get(key) {
      return read(key);
    },
  };
}

// Values travel as strings: Redis turns Lua numbers into integers on the way out.
const ADD = `
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = v + tonumber(ARGV[1])
if ARGV[3] ~= '' and n > tonumber(ARGV[3]) then return {0, tostring(v)} end
redis.call('SET', KEYS[1], tostring(n), 'PX', ARGV[2])
return {1, tostring(n)}
`;
const RAISE = `
local v = redis.call('GET', KEYS[1])
if v and tonumber(v) >= tonumber(ARGV[1]) then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`;
const SET = `redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1`;
const GET = `return redis.call('GET', KEYS[1])`;

/**
 * A {@link SharedCounter} in Redis, shared by every process using the same
 * Redis and prefix. Operations are single Lua scripts (atomic; keys expire
 * by Redis's clock). A Redis failure rejects with `store_failed`.
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * const counter = redisCounter({ redis: new Redis(process.env.REDIS_URL as string) });
 * await counter.raise('stopped-until:token-1', Date.now() + 600_000, { ttlMs: 600_000 });
 * ```
 */
export function redisCounter(options: RedisCounterOptions): SharedCounter {
  if (typeof options !== 'object' || options === null)
    throw new RateLimitError(API, 'invalid_options', 'options must be an object');
  const { redis } = options;
  if (typeof redis?.eval !== 'function')
    throw new RateLimitError(API, 'invalid_options', 'redis must be a Redis client with eval (ioredis)');
  const prefix = options.keyPrefix ?? 'ballast:counter:';
  if (typeof prefix !== 'string' || prefix === '')
    throw new RateLimitError(API, 'invalid_options', 'keyPrefix must be a non-empty string');
  const ttl = (ms: number) => String(Math.max(1, Math.ceil(ms)));
  const run = async (script: string, key: string, ...args: string[]): Promise<unknown> => {
    try {
      return await redis.eval(script, 1, `${prefix}${key}`, ...args);
    } catch (cause) {
      throw new RateLimitError(API, 'store_failed', `Redis could not update counter "${key}"`, { key, cause });
    }
  };
  return {
    async add(key, delta, { ttlMs, max }) {
      check(key, delta, ttlMs);
      const reply = (await run(ADD, key, String(delta), ttl(ttlMs), max === undefined ? '' : String(max))) as [
        number,
        string,
      ];
      return { value: Number(reply[1]), applied: Number(reply[0]) === 1 };
    },
    async set(key, value, { ttlMs }) {
      check(key, value, ttlMs);
      await run(SET, key, String(value), ttl(ttlMs));
    },
    async raise(key, value, { ttlMs }) {
      check(key, value, ttlMs);
      return Number(await run(RAISE, key, String(value), ttl(ttlMs)));
    },
    async get(key) {
      if (typeof key !== 'string' || key === '')
        throw new RateLimitError(API, 'invalid_argument', 'key must be a non-empty string');
      const reply = await run(GET, key);
      return reply === null || reply === undefined ? 0 : Number(reply);
    },
  };
}
