import { emitter } from '../internal';
import { isResponseLike, mayReportSpentBudget, pauseAsked, readRateLimitHeaders } from '../rate-limit-headers';
import type { BaseRateLimiterOptions, RateLimiter, ScheduleOptions } from '../types';
import { overweightError, RateLimitError, waitTooLongError } from './errors';
import { emitThrottle, queueCall, rejectWaiting, takeWaiter, type Waiter } from './queue';
import {
  admitCall,
  callOptions,
  checkPause,
  nonEmptyString,
  optionsObject,
  positiveInteger,
  positiveNumber,
  rejectUnknownOptions,
  SHARED_DEFAULTS,
  type SharedLimiterConfig,
  sharedLimiterOptions,
} from './validate';
import { WaiterHeap } from './waiter-heap';

const API = 'redisRateLimiter';

/**
 * The two commands the Redis limiter needs. An ioredis `Redis` or `Cluster`
 * instance fits as is; the limiter never mutates the client (no
 * `defineCommand`).
 */
export interface RedisScriptClient {
  eval(script: string, numkeys: number, ...args: Array<string | number>): Promise<unknown>;
  evalsha(sha1: string, numkeys: number, ...args: Array<string | number>): Promise<unknown>;
}

/** Options of {@link redisRateLimiter}. Budgets are per key and shared by every process using the same Redis and prefix. */
export interface RedisRateLimiterOptions extends BaseRateLimiterOptions {
  /** The Redis client (ioredis). */
  redis: RedisScriptClient;
  /** Units allowed in any window of `interval` milliseconds, across all processes. */
  limit: number;
  /**
   * The longest a call waits for the shared budget before it rejects with
   * `wait_too_long`, in milliseconds.
   * @default 30_000
   */
  maxWait?: number;
  /**
   * Prefix of the Redis keys (one sorted set and two strings per limiter key).
   * @default 'ballast:ratelimit:'
   */
  keyPrefix?: string;
  /**
   * With `holdUntilSettled`, the longest a call holds its slot before it is
   * counted as settled anyway (a process that died mid-call frees its slots
   * after this), in milliseconds.
   * @default 60_000
   */
  maxHold?: number;
}

/** A {@link RateLimiter} whose budget lives in Redis, shared by every process that uses the same keys. */
export interface RedisRateLimiter extends RateLimiter {
  /**
   * Learns from a response sent under `key`: a 429, or `remaining` at 0,
   * pauses the key in every process until the provider's reset.
   */
  observe(response: Response, key?: string): void;
  /** Pauses `key` in every process for `ms` milliseconds (a longer pause in force stays). */
  pause(key: string, ms: number): Promise<void>;
  /** Rejects every call waiting in this process with `closed` and clears its timers. */
  close(): void;
}

/**
 * Sliding-window log in one sorted set per key, with Redis's own clock, so
 * processes on machines with skewed clocks still share one window. A
 * member's score is when its call settled (or, while it runs, when it is
 * presumed settled: grant + ARGV[5]); it counts until score + window.
 * The running sum of weights (KEYS[2]) is a cache of the set: Redis may evict
 * either key alone, so a missing sum is recomputed from the set, and a missing
 * set resets the sum (both keys get the same TTL on every call).
 * Returns { granted (1|0), wait in ms }: a wait that depends on a running
 * call is a lower bound (the call may settle any moment), so the caller asks
 * again then.
 */
const ACQUIRE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then return {0, paused - now} end
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local weight = tonumber(ARGV[3])
local used = redis.call('GET', KEYS[2])
if used then
  used = tonumber(used)
else
  -- the running sum is gone (evicted, or never written) while the set may hold
  -- entries: the set is the record, so the sum is recomputed from it
  used = 0
  local members = redis.call('ZRANGE', KEYS[1], 0, -1)
  for i = 1, #members do
    used = used + tonumber(string.match(members[i], '|([^|]+)$'))
  end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window)
for i = 1, #expired do
  used = used - tonumber(string.match(expired[i], '|([^|]+)$'))
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window) end
if used < 1e-9 or redis.call('ZCARD', KEYS[1]) == 0 then used = 0 end
local ttl = window * 2 + tonumber(ARGV[5])
if used + weight <= limit then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), ARGV[4] .. '|' .. ARGV[3])
  redis.call('SET', KEYS[2], tostring(used + weight), 'PX', ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {1, 0}
end
redis.call('SET', KEYS[2], tostring(used), 'PX', ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
local need = used + weight - limit
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local freed = 0
for i = 1, #entries, 2 do
  freed = freed + tonumber(string.match(entries[i], '|([^|]+)$'))
  if freed >= need - 1e-9 then
    local settled = tonumber(entries[i + 1])
    if settled > now then return {0, window} end
    return {0, settled + window - now}
  end
end
return {0, window}
`;

/** Marks a granted call as settled now (Redis clock): its slot frees one window later. */
const SETTLE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
`;

/**
 * Takes back a grant whose call never ran (its caller aborted while the grant
 * was on its way): removes the member and its weight from the running sum.
 */
const RELEASE_SCRIPT = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local used = redis.call('GET', KEYS[2])
local ttl = redis.call('PTTL', KEYS[2])
if used and ttl > 0 then
  local left = tonumber(used) - tonumber(string.match(ARGV[1], '|([^|]+)$'))
  if left < 1e-9 then left = 0 end
  redis.call('SET', KEYS[2], tostring(left), 'PX', ttl)
end
return 1
`;

/** Extends the key's pause to `now + ARGV[1]` ms (Redis clock) unless a longer one is in force. */
const PAUSE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local target = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if target > current then redis.call('SET', KEYS[1], tostring(target), 'PX', tonumber(ARGV[1])) end
return target - now
`;

const SCRIPTS = {
  acquire: ACQUIRE_SCRIPT,
  pause: PAUSE_SCRIPT,
  settle: SETTLE_SCRIPT,
  release: RELEASE_SCRIPT,
} as const;
type ScriptName = keyof typeof SCRIPTS;

const hex = (bytes: ArrayBuffer | Uint8Array): string =>
  Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

let digests: Promise<Record<ScriptName, string>> | undefined;

/** SHA-1 of each script for EVALSHA, computed once with Web Crypto (no `node:` import, so any runtime can load this module). */
function scriptDigests(): Promise<Record<ScriptName, string>> {
  digests ??= (async () => {
    const entries = await Promise.all(
      (Object.keys(SCRIPTS) as ScriptName[]).map(
        async (name) =>
          [name, hex(await crypto.subtle.digest('SHA-1', new TextEncoder().encode(SCRIPTS[name])))] as const,
      ),
    );
    return Object.fromEntries(entries) as Record<ScriptName, string>;
  })();
  return digests;
}

const DEFAULTS = {
  ...SHARED_DEFAULTS,
  maxWait: 30_000,
  keyPrefix: 'ballast:ratelimit:',
  maxHold: 60_000,
} as const;

interface Normalized extends SharedLimiterConfig {
  redis: RedisScriptClient;
  limit: number;
  interval: number;
  maxWait: number;
  keyPrefix: string;
  maxHold: number;
}

function normalize(options: unknown): Normalized {
  const o = optionsObject(API, options, true);
  rejectUnknownOptions(API, o, [...Object.keys(DEFAULTS), 'redis', 'limit', 'onEvent']);
  const redis = o.redis as Partial<RedisScriptClient> | undefined;
  if (
    typeof redis !== 'object' ||
    redis === null ||
    typeof redis.eval !== 'function' ||
    typeof redis.evalsha !== 'function'
  ) {
    throw new RateLimitError(API, 'invalid_options', 'redis must be a Redis client with eval and evalsha (ioredis)');
  }
  if (o.limit === undefined) throw new RateLimitError(API, 'invalid_options', 'limit is required');
  return {
    ...sharedLimiterOptions(API, o),
    redis: redis as RedisScriptClient,
    limit: positiveNumber(API, 'limit', o.limit, false),
    interval: positiveInteger(API, 'interval', o.interval ?? DEFAULTS.interval, false),
    maxWait: positiveNumber(API, 'maxWait', o.maxWait ?? DEFAULTS.maxWait, true),
    keyPrefix: nonEmptyString(API, 'keyPrefix', o.keyPrefix ?? DEFAULTS.keyPrefix),
    maxHold: positiveInteger(API, 'maxHold', o.maxHold ?? DEFAULTS.maxHold, false),
  };
}

interface KeyState {
  readonly key: string;
  readonly redisKeys: readonly [log: string, used: string, pause: string];
  readonly queue: WaiterHeap<Waiter>;
  running: number;
  /** True while this process has an acquire loop for the key (one at a time, so waiting callers don't flood Redis). */
  pumping: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  wake: (() => void) | undefined;
}

/**
 * Creates a rate limiter whose budget is shared through Redis: every process
 * using the same Redis, prefix and key draws from one sliding-window budget
 * of `limit` units per `interval`, timed by Redis's clock. When the budget is
 * spent, calls wait (not fail) for the next free slot, up to `maxWait`.
 *
 * One Lua script per grant keeps the check and the booking atomic; in each
 * process only the head of a key's queue talks to Redis, and it sleeps until
 * the moment the script says a slot frees, so waiting callers do not poll.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * const limiter = redisRateLimiter({ redis: new Redis(process.env.REDIS_URL), limit: 100, interval: 1000 });
 * const res = await limiter.schedule(() => fetch('https://api.stripe.com/v1/charges'), { key: 'stripe' });
 * ```
 */
export function redisRateLimiter(options: RedisRateLimiterOptions): RedisRateLimiter {
  const config = normalize(options);
  const { redis, limit, interval, concurrency, maxQueued, maxWait, defaultKey } = config;
  const emit = emitter(config.onEvent);
  const keys = new Map<string, KeyState>();
  const call = callOptions(defaultKey);
  const token = hex(crypto.getRandomValues(new Uint8Array(6)));
  const holdMs = config.holdUntilSettled ? config.maxHold : 0;
  // a 429 that names no wait keeps the key quiet for at least its window
  const bare429Pause = Math.max(config.pauseOn429, interval);
  let counter = 0;
  let seq = 0;
  let closed = false;

  /** EVALSHA, falling back to EVAL (which also caches the script) when Redis does not know the script yet. */
  async function runScript(name: ScriptName, redisKeys: readonly string[], args: Array<string | number>) {
    const sha = (await scriptDigests())[name];
    try {
      return await redis.evalsha(sha, redisKeys.length, ...redisKeys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await redis.eval(SCRIPTS[name], redisKeys.length, ...redisKeys, ...args);
    }
  }

  /** The sorted set, the running sum and the pause of `key`; a hash tag keeps the three in one Redis Cluster slot. */
  function redisKeysOf(key: string): readonly [log: string, used: string, pause: string] {
    const base = `${config.keyPrefix}{${key}}`;
    return [`${base}:log`, `${base}:used`, `${base}:pause`];
  }

  function stateFor(key: string): KeyState {
    let state = keys.get(key);
    if (state === undefined) {
      state = {
        key,
        redisKeys: redisKeysOf(key),
        queue: new WaiterHeap<Waiter>(),
        running: 0,
        pumping: false,
        timer: undefined,
        wake: undefined,
      };
      keys.set(key, state);
    }
    return state;
  }

  /** Forgets a key with nothing waiting or running: this process keeps no state between bursts. */
  function maybeForget(state: KeyState): void {
    if (state.queue.size === 0 && state.running === 0 && !state.pumping) keys.delete(state.key);
  }

  function sleep(state: KeyState, ms: number): Promise<void> {
    return new Promise((resolve) => {
      state.wake = resolve;
      state.timer = setTimeout(() => {
        state.timer = undefined;
        state.wake = undefined;
        resolve();
      }, ms);
    });
  }

  function settle(state: KeyState): void {
    state.running--;
    if (state.queue.size > 0) void pump(state);
    else maybeForget(state);
  }

  function start(state: KeyState, waiter: Waiter, member: string): void {
    state.running++;
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(waiter.fn(waiter.signal));
    } catch (error) {
      result = Promise.reject(error);
    }
    const done = (): void => {
      // a failed settle leaves the slot held until maxHold: late, never early
      if (holdMs > 0) runScript('settle', [state.redisKeys[0]], [member]).catch(() => undefined);
      settle(state);
    };
    result.then(
      (value) => {
        done();
        waiter.resolve(value);
      },
      (error: unknown) => {
        done();
        waiter.reject(error);
      },
    );
  }

  /** Rejects every waiter that cannot start before its deadline, given the head starts in `waitMs` at the earliest. */
  function expire(state: KeyState, now: number, waitMs: number): void {
    for (const waiter of [...state.queue.entries()]) {
      const bound = Math.min(maxWait, waiter.maxWait);
      if (waiter.pastDeadline || now + waitMs > waiter.enqueuedAt + bound) {
        takeWaiter(state.queue, waiter);
        waiter.reject(waitTooLongError(API, state.key, now + waitMs - waiter.enqueuedAt, bound));
      }
    }
  }

  /** The acquire loop of one key in this process: grants the head, or sleeps until Redis says a slot frees. */
  async function pump(state: KeyState): Promise<void> {
    if (state.pumping) return;
    state.pumping = true;
    try {
      while (!closed && state.queue.size > 0 && state.running < concurrency) {
        const head = state.queue.peek() as Waiter;
        let granted: boolean;
        let wait: number;
        const id = `${token}:${counter++}`;
        head.busy = true;
        try {
          const reply = await runScript('acquire', state.redisKeys, [limit, interval, String(head.weight), id, holdMs]);
          [granted, wait] = parseReply(reply);
        } catch (cause) {
          head.busy = false;
          if (takeWaiter(state.queue, head)) {
            head.reject(
              new RateLimitError(API, 'store_failed', `Redis could not grant a call of key "${state.key}"`, {
                key: state.key,
                cause,
              }),
            );
          }
          continue;
        }
        head.busy = false;
        if (granted) {
          const member = `${id}|${head.weight}`;
          if (takeWaiter(state.queue, head)) start(state, head, member);
          // the head left during the round trip (aborted, closed): nothing was sent, so the
          // grant goes back at once; a failed release leaves it held until maxHold, late, never early
          else runScript('release', state.redisKeys.slice(0, 2), [member]).catch(() => undefined);
          continue;
        }
        const now = Date.now();
        expire(state, now, wait);
        if (state.queue.size === 0) break;
        emitThrottle(emit, state.key, 'queued', wait);
        await sleep(state, wait);
      }
    } finally {
      state.pumping = false;
      maybeForget(state);
    }
  }

  function parseReply(reply: unknown): [boolean, number] {
    if (!Array.isArray(reply) || reply.length < 2) {
      throw new Error(`unexpected reply from the rate-limit script: ${String(reply)}`);
    }
    const wait = Number(reply[1]);
    return [Number(reply[0]) === 1, Number.isFinite(wait) && wait > 0 ? wait : 1];
  }

  function schedule<T>(fn: (signal?: AbortSignal) => Promise<T>, options?: ScheduleOptions): Promise<T> {
    const admitted = admitCall(API, fn, options, defaultKey, closed, call);
    if (admitted instanceof RateLimitError) return Promise.reject(admitted);
    // copied out: `call` is reused by the next schedule, which `fn` may make at once
    const { key, weight, priority, signal, maxWait: callMaxWait } = admitted;
    if (weight > limit) return Promise.reject(overweightError(API, key, weight, limit));
    const state = stateFor(key);
    return queueCall<T, Waiter>(
      API,
      key,
      state.queue,
      maxQueued,
      { fn, weight, priority, seq: seq++, signal, enqueuedAt: Date.now(), maxWait: callMaxWait },
      () => void pump(state),
      // the head's sleep may now be for nobody: let the loop look again
      () => {
        if (state.queue.size === 0) wakeUp(state);
      },
    );
  }

  function wakeUp(state: KeyState): void {
    if (state.timer !== undefined) clearTimeout(state.timer);
    state.timer = undefined;
    const wake = state.wake;
    state.wake = undefined;
    wake?.();
  }

  async function pause(key: string, ms: number): Promise<void> {
    checkPause(API, key, ms);
    const capped = Math.ceil(Math.min(ms, config.maxPause));
    if (capped <= 0) return;
    try {
      await runScript('pause', [redisKeysOf(key)[2]], [capped]);
    } catch (cause) {
      throw new RateLimitError(API, 'store_failed', `Redis could not pause key "${key}"`, { key, cause });
    }
    emitThrottle(emit, key, 'paused', capped);
  }

  return {
    schedule,
    observe(response: Response, key: string = defaultKey): void {
      if (closed || !isResponseLike(response)) return;
      // only a 429 or a spent budget pauses: skip reading the headers of other responses
      if (response.status !== 429 && !mayReportSpentBudget(response.headers)) return;
      const ms = pauseAsked(response.status, readRateLimitHeaders(response.headers), bare429Pause);
      // observe cannot fail the call it observes: a Redis error here only loses the pause
      if (ms !== undefined && ms > 0) pause(key, ms).catch(() => undefined);
    },
    pause,
    close(): void {
      closed = true;
      for (const state of keys.values()) {
        rejectWaiting(API, state.key, state.queue);
        wakeUp(state);
      }
    },
  };
}
