import { fork } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithRedis, uniqueKeyPrefix } from '../../../../../test-support/services';
import { rejection, thrownBy } from '../test-support';
import type { ResilienceEvent } from '../types';
import { isRateLimitError, type RateLimitError } from './errors';
import { type RedisScriptClient, redisRateLimiter } from './redis';

/** A client whose commands always fail, to see the limiter report `store_failed`. */
const brokenRedis: RedisScriptClient = {
  eval: async () => {
    throw new Error('connection refused');
  },
  evalsha: async () => {
    throw new Error('connection refused');
  },
};

describe('redisRateLimiter: options and store errors (no server needed)', () => {
  it.each([
    [undefined, 'options must be an object'],
    [{ limit: 5 }, 'redis must be a Redis client'],
    [{ redis: {}, limit: 5 }, 'redis must be a Redis client'],
    [{ redis: brokenRedis }, 'limit is required'],
    [{ redis: brokenRedis, limit: 0 }, 'limit'],
    [{ redis: brokenRedis, limit: Number.POSITIVE_INFINITY }, 'limit'],
    [{ redis: brokenRedis, limit: 5, interval: 1.5 }, 'interval'],
    [{ redis: brokenRedis, limit: 5, maxWait: -1 }, 'maxWait'],
    [{ redis: brokenRedis, limit: 5, keyPrefix: '' }, 'keyPrefix'],
    [{ redis: brokenRedis, limit: 5, concurrency: 0 }, 'concurrency'],
    [{ redis: brokenRedis, limit: 5, burst: 2 }, 'unknown option "burst"'],
    [{ redis: brokenRedis, limit: 5, holdUntilSettled: 'yes' }, 'holdUntilSettled'],
    [{ redis: brokenRedis, limit: 5, maxHold: 0 }, 'maxHold'],
  ])('rejects %j at construction with invalid_options', (options, mention) => {
    const caught = thrownBy(() => redisRateLimiter(options as never));
    expect(isRateLimitError(caught)).toBe(true);
    expect((caught as RateLimitError).code).toBe('invalid_options');
    expect((caught as RateLimitError).message).toContain(mention);
  });

  it('rejects a call with store_failed when Redis fails, and does not run it', async () => {
    const limiter = redisRateLimiter({ redis: brokenRedis, limit: 5 });
    let ran = false;
    const error = await rejection(
      limiter.schedule(async () => {
        ran = true;
      }),
    );
    expect(error.code).toBe('store_failed');
    expect((error.cause as Error).message).toBe('connection refused');
    expect(ran).toBe(false);
  });

  it('rejects bad call options and a weight above the limit', async () => {
    const limiter = redisRateLimiter({ redis: brokenRedis, limit: 5 });
    expect((await rejection(limiter.schedule(async () => 1, { weight: 6 }))).code).toBe('invalid_argument');
    expect((await rejection(limiter.schedule(async () => 1, { key: '' }))).code).toBe('invalid_argument');
    expect((await rejection(limiter.schedule(async () => 1, { signal: AbortSignal.abort() }))).code).toBe('aborted');
    await expect(limiter.pause('', 5)).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});

describeWithRedis('redisRateLimiter', (url) => {
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(url, { maxRetriesPerRequest: 1 });
    await redis.ping();
  });
  afterAll(() => redis.disconnect());

  it('grants `limit` calls per window across limiter instances and makes the rest wait for a slot', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const a = redisRateLimiter({ redis, limit: 4, interval: 400, keyPrefix });
    const b = redisRateLimiter({ redis, limit: 4, interval: 400, keyPrefix });
    const t0 = Date.now();
    const starts: number[] = [];
    const calls = Array.from({ length: 10 }, (_, i) =>
      (i % 2 === 0 ? a : b).schedule(async () => starts.push(Date.now() - t0), { key: 'shared' }),
    );
    await Promise.all(calls);
    starts.sort((x, y) => x - y);
    expect(starts).toHaveLength(10);
    // 4 at once, 4 one window later, 2 a window after that
    expect(starts.filter((t) => t < 350)).toHaveLength(4);
    expect(starts.filter((t) => t >= 380 && t < 750)).toHaveLength(4);
    expect(starts.filter((t) => t >= 780)).toHaveLength(2);
  });

  it.each([
    [true, 500],
    [false, 300],
  ])('holdUntilSettled %s: a slot frees one interval after the call %s', async (holdUntilSettled, freesAt) => {
    const keyPrefix = uniqueKeyPrefix();
    const limiter = redisRateLimiter({ redis, limit: 1, interval: 300, keyPrefix, holdUntilSettled });
    const t0 = Date.now();
    await limiter.schedule(() => new Promise((resolve) => setTimeout(resolve, 200)));
    const second = await limiter.schedule(async () => Date.now() - t0);
    expect(second).toBeGreaterThanOrEqual(freesAt - 15);
    expect(second).toBeLessThan(freesAt + 150);
  });

  it('starts waiting calls of this process by priority, and caps them at `concurrency`', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const limiter = redisRateLimiter({
      redis,
      limit: 1,
      interval: 150,
      keyPrefix,
      concurrency: 1,
      holdUntilSettled: false,
    });
    const order: string[] = [];
    let running = 0;
    let peak = 0;
    const job = (name: string) => async () => {
      running++;
      peak = Math.max(peak, running);
      order.push(name);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running--;
    };
    const first = limiter.schedule(job('first'));
    const rest = [
      limiter.schedule(job('low'), { priority: 0 }),
      limiter.schedule(job('high'), { priority: 5 }),
      limiter.schedule(job('mid'), { priority: 2 }),
    ];
    await Promise.all([first, ...rest]);
    expect(order).toEqual(['first', 'high', 'mid', 'low']);
    expect(peak).toBe(1);
  });

  it('keeps keys apart and counts weights', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const limiter = redisRateLimiter({ redis, limit: 10, interval: 1000, keyPrefix, maxWait: 100 });
    await limiter.schedule(async () => 1, { key: 'a', weight: 7 });
    await limiter.schedule(async () => 1, { key: 'b', weight: 7 });
    await limiter.schedule(async () => 1, { key: 'a', weight: 3 });
    const error = await rejection(limiter.schedule(async () => 1, { key: 'a', weight: 1 }));
    expect(error.code).toBe('wait_too_long');
    expect(error.waitMs).toBeGreaterThan(100);
    expect(error.key).toBe('a');
  });

  it('rejects with wait_too_long instead of waiting past maxWait, and reports the throttle', async () => {
    const events: ResilienceEvent[] = [];
    const keyPrefix = uniqueKeyPrefix();
    const limiter = redisRateLimiter({
      redis,
      limit: 1,
      interval: 5000,
      keyPrefix,
      maxWait: 200,
      onEvent: (e) => events.push(e),
    });
    await limiter.schedule(async () => 1);
    const started = Date.now();
    const error = await rejection(limiter.schedule(async () => 2));
    expect(error.code).toBe('wait_too_long');
    expect(Date.now() - started).toBeLessThan(150); // known at once: no point in waiting
    expect(events).toEqual([]); // the only waiter was rejected before it slept
  });

  it("a call's own maxWait bounds its wait behind this process's concurrency", async () => {
    const keyPrefix = uniqueKeyPrefix();
    const limiter = redisRateLimiter({ redis, limit: 100, interval: 1000, keyPrefix, concurrency: 1 });
    let release!: () => void;
    const running = limiter.schedule(() => new Promise<void>((resolve) => (release = resolve)));
    await new Promise((resolve) => setTimeout(resolve, 50)); // granted and running
    const error = await rejection(limiter.schedule(async () => 'late', { maxWait: 100 }));
    expect(error).toMatchObject({ code: 'wait_too_long', key: 'default' });
    release();
    await running;
    await expect(limiter.schedule(async () => 'next', { maxWait: 0 })).resolves.toBe('next');
    limiter.close();
  });

  it('an aborted waiting call rejects with aborted and never runs', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const limiter = redisRateLimiter({ redis, limit: 1, interval: 2000, keyPrefix });
    await limiter.schedule(async () => 1);
    const controller = new AbortController();
    let ran = false;
    const waiting = limiter.schedule(
      async () => {
        ran = true;
      },
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error('gone')), 50);
    const error = await rejection(waiting);
    expect(error.code).toBe('aborted');
    expect(ran).toBe(false);
  });

  it('gives back a grant that arrives after its caller aborted: the next call gets the slot', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const controller = new AbortController();
    let abortOnGrant = true;
    // the caller aborts while the first grant is on its way back from Redis
    const late = async (reply: Promise<unknown>, numkeys: number): Promise<unknown> => {
      const value = await reply;
      if (numkeys === 3 && abortOnGrant) {
        abortOnGrant = false;
        controller.abort(new Error('the caller gave up'));
      }
      return value;
    };
    const client: RedisScriptClient = {
      eval: (script, numkeys, ...args) => late(redis.eval(script, numkeys, ...args), numkeys),
      evalsha: (sha, numkeys, ...args) => late(redis.evalsha(sha, numkeys, ...args), numkeys),
    };
    const limiter = redisRateLimiter({ redis: client, limit: 1, interval: 1000, keyPrefix, maxWait: 5000 });
    let ran = false;
    const aborted = limiter.schedule(
      async () => {
        ran = true;
      },
      { signal: controller.signal },
    );
    expect((await rejection(aborted)).code).toBe('aborted');
    // held until maxHold (60 s) before the fix, so this call waited out its maxWait
    await expect(limiter.schedule(async () => 'next')).resolves.toBe('next');
    expect(ran).toBe(false);
    expect(await redis.zcard(`${keyPrefix}{default}:log`)).toBe(1);
    limiter.close();
  });

  it('recomputes the running sum from the set when Redis evicted the sum alone, and resets it with the set', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const limiter = redisRateLimiter({ redis, limit: 3, interval: 5000, keyPrefix, maxWait: 200 });
    await limiter.schedule(async () => 1, { key: 'k', weight: 2 });
    await limiter.schedule(async () => 1, { key: 'k' });
    await redis.del(`${keyPrefix}{k}:used`); // eviction takes one key, not both
    const error = await rejection(limiter.schedule(async () => 3, { key: 'k' }));
    expect(error.code).toBe('wait_too_long');
    expect(Number(await redis.get(`${keyPrefix}{k}:used`))).toBe(3);
    // the set is the record: without it, the sum does not hold the budget on its own
    await redis.del(`${keyPrefix}{k}:log`);
    await expect(limiter.schedule(async () => 4, { key: 'k' })).resolves.toBe(4);
    expect(Number(await redis.get(`${keyPrefix}{k}:used`))).toBe(1);
    limiter.close();
  });

  it('rejects with queue_full beyond maxQueued, and close() rejects the waiting calls', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const limiter = redisRateLimiter({ redis, limit: 1, interval: 2000, keyPrefix, maxQueued: 1 });
    await limiter.schedule(async () => 1);
    const waiting = limiter.schedule(async () => 2);
    expect((await rejection(limiter.schedule(async () => 3))).code).toBe('queue_full');
    limiter.close();
    expect((await rejection(waiting)).code).toBe('closed');
  });

  it('observe() pauses the key in every process that shares it', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const a = redisRateLimiter({ redis, limit: 100, interval: 1000, keyPrefix });
    const b = redisRateLimiter({ redis, limit: 100, interval: 1000, keyPrefix });
    a.observe(new Response(null, { status: 429, headers: { 'retry-after': '1' } }), 'provider');
    await new Promise((resolve) => setTimeout(resolve, 20)); // the pause is written asynchronously
    const t0 = Date.now();
    await b.schedule(async () => 1, { key: 'provider' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    await expect(b.schedule(async () => 2, { key: 'other' })).resolves.toBe(2);
  });

  it('loads its script again after a SCRIPT FLUSH (NOSCRIPT)', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const calls: string[] = [];
    const client: RedisScriptClient = {
      evalsha: async () => {
        calls.push('evalsha');
        throw new Error('NOSCRIPT No matching script. Please use EVAL.');
      },
      eval: (...args) => {
        calls.push('eval');
        return redis.eval(...args);
      },
    };
    const limiter = redisRateLimiter({ redis: client, limit: 5, keyPrefix });
    await expect(limiter.schedule(async () => 'ok')).resolves.toBe('ok');
    expect(calls.slice(0, 2)).toEqual(['evalsha', 'eval']);
  });

  it('uses EVALSHA once Redis has seen the script (the digest matches)', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const outcomes: string[] = [];
    const client: RedisScriptClient = {
      evalsha: async (...args) => {
        try {
          const reply = await redis.evalsha(...args);
          outcomes.push('evalsha ok');
          return reply;
        } catch (error) {
          outcomes.push('evalsha failed');
          throw error;
        }
      },
      eval: (...args) => redis.eval(...args),
    };
    const limiter = redisRateLimiter({ redis: client, limit: 5, keyPrefix, holdUntilSettled: false });
    await limiter.schedule(async () => 1);
    await limiter.schedule(async () => 2);
    expect(outcomes.at(-1)).toBe('evalsha ok');
  });

  /** Counts of arrivals in every window of `width` ms that starts at an arrival (the sliding view). */
  function slidingMax(times: number[], width: number): number {
    let max = 0;
    let j = 0;
    for (let i = 0; i < times.length; i++) {
      while ((times[j] as number) <= (times[i] as number) - width) j++;
      max = Math.max(max, i - j + 1);
    }
    return max;
  }

  it('3 OS processes share 50 requests/s against a local server for 10 s: never above the limit, at least 90% of it', async () => {
    const LIMIT = 50;
    const RUN_MS = 10_000;
    const arrivals: number[] = [];
    const server: Server = createServer((req, res) => {
      if (req.headers['x-warm-up'] === undefined) arrivals.push(performance.timeOrigin + performance.now());
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const target = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const keyPrefix = uniqueKeyPrefix();
    const worker = fileURLToPath(new URL('./fixtures/redis-worker.ts', import.meta.url));
    const children = Array.from({ length: 3 }, () =>
      fork(worker, [url, keyPrefix, target, String(LIMIT), '1000', '10'], {
        execArgv: ['--conditions=@ballast/source', '--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    try {
      const message = (child: (typeof children)[number], type: string) =>
        new Promise<Record<string, number>>((resolve, reject) => {
          child.on('message', (m: { type: string } & Record<string, number>) => m.type === type && resolve(m));
          child.on('exit', (code) => reject(new Error(`worker exited with ${code} before "${type}"`)));
        });
      await Promise.all(children.map((c) => message(c, 'ready')));
      const startAt = Date.now() + 300;
      const endAt = startAt + RUN_MS;
      const done = children.map((c) => message(c, 'done'));
      for (const child of children) child.send({ startAt, endAt });
      const reports = await Promise.all(done);

      arrivals.sort((x, y) => x - y);
      const inRun = arrivals.filter((t) => t >= startAt && t < endAt);
      // fixed windows aligned to the run's start, and to wall-clock seconds
      const fixed = (origin: number) => {
        const counts = new Map<number, number>();
        for (const t of inRun) {
          const w = Math.floor((t - origin) / 1000);
          counts.set(w, (counts.get(w) ?? 0) + 1);
        }
        return [...counts.values()];
      };
      const fromStart = fixed(startAt);
      const wallClock = fixed(0);
      const sliding = slidingMax(inRun, 1000);
      const sent = reports.reduce((sum, r) => sum + (r.sent ?? 0), 0);
      const failed = reports.reduce((sum, r) => sum + (r.failed ?? 0), 0);
      console.info(
        `redis shared budget: ${inRun.length} requests in ${RUN_MS / 1000} s (${((inRun.length / (LIMIT * (RUN_MS / 1000))) * 100).toFixed(1)}% of ${LIMIT}/s); per worker ${reports.map((r) => r.sent).join('/')}, ${failed} failed; max per run-aligned second ${Math.max(...fromStart)}, per wall-clock second ${Math.max(...wallClock)}, per sliding 1 s window ${sliding}`,
      );
      expect(sent).toBe(arrivals.length);
      expect(failed).toBe(0);
      expect(Math.max(...fromStart)).toBeLessThanOrEqual(LIMIT);
      expect(Math.max(...wallClock)).toBeLessThanOrEqual(LIMIT);
      expect(sliding).toBeLessThanOrEqual(LIMIT);
      expect(inRun.length).toBeGreaterThanOrEqual(0.9 * LIMIT * (RUN_MS / 1000));
      // every process got a share: the budget is shared, not grabbed by one
      for (const r of reports) expect(r.sent).toBeGreaterThan(LIMIT);
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 60_000);
});
