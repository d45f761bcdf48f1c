import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isBallastError } from '../errors';
import {
  IdempotencyCachedError,
  IdempotencyConflictError,
  IdempotencyError,
  IdempotencyInProgressError,
  isIdempotencyCachedError,
  isIdempotencyConflictError,
  isIdempotencyError,
  isIdempotencyInProgressError,
} from './errors';
import { type IdempotentOptions, idempotent } from './idempotent';
import { memoryIdempotencyStore } from './memory-store';
import type { IdempotencyStore } from './store';

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

/** Lets pending promise callbacks run without advancing fake time. */
const flush = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('idempotent() options', () => {
  const store = memoryIdempotencyStore();
  const base: IdempotentOptions<string> = { store, key: (s) => s };
  const fn = async (s: string) => s;

  const bad: [string, unknown, RegExp][] = [
    ['options not an object', null, /options must be an object/],
    ['no store', { key: base.key }, /store is required/],
    ['a store missing a method', { ...base, store: { ...store, release: undefined } }, /release\(\) is missing/],
    ['key not a function', { ...base, key: 'id' }, /key must be a function/],
    ['fingerprint not a function', { ...base, fingerprint: 'sha' }, /fingerprint must be a function/],
    ['lease zero', { ...base, lease: 0 }, /lease must be a positive/],
    ['lease negative', { ...base, lease: -1 }, /lease must be a positive/],
    ['lease NaN', { ...base, lease: Number.NaN }, /lease must be a positive/],
    ['lease as text', { ...base, lease: '30s' }, /lease must be a positive/],
    ['lease infinite', { ...base, lease: Number.POSITIVE_INFINITY }, /lease must be a positive/],
    ['retention negative', { ...base, retention: -5 }, /retention must be a non-negative/],
    ['retention beyond any date', { ...base, retention: 1e20 }, /retention must be .* at most 100 years/],
    ['cacheErrors as text', { ...base, cacheErrors: 'yes' }, /cacheErrors must be/],
    ['wait as text', { ...base, wait: 'forever' }, /wait must be/],
    ['wait.timeout zero', { ...base, wait: { timeout: 0 } }, /wait.timeout must be a positive/],
    ['wait.initialDelay negative', { ...base, wait: { initialDelay: -1 } }, /wait.initialDelay must be/],
    ['wait.maxDelay below initialDelay', { ...base, wait: { initialDelay: 100, maxDelay: 10 } }, /maxDelay must be/],
    ['transactional on a store without transactions', { ...base, transactional: true }, /needs a store with/],
    ['transactional as text', { ...base, transactional: 'yes' }, /transactional must be a boolean/],
    ['purgeInterval negative', { ...base, purgeInterval: -1 }, /purgeInterval must be/],
    ['now not a function', { ...base, now: 5 }, /now must be a function/],
  ];

  it.each(bad)('rejects %s with invalid_options at construction', (_, options, message) => {
    let error: unknown;
    try {
      idempotent(fn, options as IdempotentOptions<string>);
    } catch (e) {
      error = e;
    }
    expect(isIdempotencyError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'invalid_options' });
    expect((error as Error).message).toMatch(/^\[@ballast\/core\] \[idempotent\] /);
    expect((error as Error).message).toMatch(message);
  });

  it('rejects a non-function fn', () => {
    expect(() => idempotent('nope' as unknown as typeof fn, base)).toThrow(/fn must be a function/);
  });

  it('never mutates the caller options', async () => {
    const options = Object.freeze({ ...base, wait: Object.freeze({ timeout: 5 }) });
    const wrapped = idempotent(fn, options);
    expect(await wrapped('a')).toBe('a');
    expect(options).toEqual({ ...base, wait: { timeout: 5 } });
  });
});

describe('idempotent() keys and fingerprints', () => {
  const tooLong = 'x'.repeat(1025);
  const badKeys: [string, (input: string) => string][] = [
    ['an empty string', () => ''],
    ['a number', () => 42 as unknown as string],
    ['undefined', () => undefined as unknown as string],
    ['a string over 1024 characters', () => tooLong],
  ];

  it.each(badKeys)('rejects a key function returning %s with invalid_key, without running fn', async (_, key) => {
    const fn = vi.fn(async () => 'ran');
    const wrapped = idempotent(fn, { store: memoryIdempotencyStore(), key });
    await expect(wrapped('x')).rejects.toMatchObject({ name: 'IdempotencyError', code: 'invalid_key' });
    expect(fn).not.toHaveBeenCalled();
  });

  it('wraps a throwing key function as invalid_key with the cause', async () => {
    const cause = new Error('no id');
    const wrapped = idempotent(async () => 1, {
      store: memoryIdempotencyStore(),
      key: () => {
        throw cause;
      },
    });
    await expect(wrapped(undefined)).rejects.toMatchObject({ code: 'invalid_key', cause });
  });

  it('accepts a key of exactly 1024 characters', async () => {
    const wrapped = idempotent(async () => 'ok', { store: memoryIdempotencyStore(), key: () => 'k'.repeat(1024) });
    expect(await wrapped(undefined)).toBe('ok');
  });

  it('rejects a fingerprint that is not a string, or throws, with invalid_fingerprint', async () => {
    const fn = vi.fn(async () => 'ran');
    const notString = idempotent(fn, {
      store: memoryIdempotencyStore(),
      key: () => 'k',
      fingerprint: () => 7 as unknown as string,
    });
    await expect(notString(undefined)).rejects.toMatchObject({ code: 'invalid_fingerprint', key: 'k' });
    const throwing = idempotent(fn, {
      store: memoryIdempotencyStore(),
      key: () => 'k',
      fingerprint: () => {
        throw new Error('hash failed');
      },
    });
    await expect(throwing(undefined)).rejects.toMatchObject({ code: 'invalid_fingerprint' });
    expect(fn).not.toHaveBeenCalled();
  });

  it('passes the key and the lease deadline to fn', async () => {
    const seen: unknown[] = [];
    const wrapped = idempotent(
      async (_: undefined, ctx) => {
        seen.push(ctx);
      },
      { store: memoryIdempotencyStore(), key: () => 'k', lease: 10_000 },
    );
    await wrapped(undefined);
    expect(seen).toEqual([
      { key: 'k', takeover: false, leaseUntil: Date.now() + 10_000, extendLease: expect.any(Function) },
    ]);
  });
});

describe('idempotent() with wait', () => {
  it('waits for the running call and returns its result, polling with bounded backoff', async () => {
    const store = memoryIdempotencyStore();
    const claim = vi.spyOn(store, 'claim');
    const gate = deferred<string>();
    let runs = 0;
    const wrapped = idempotent(
      async () => {
        runs++;
        return gate.promise;
      },
      { store, key: () => 'k', wait: { timeout: 60_000, initialDelay: 10, maxDelay: 200 } },
    );
    const first = wrapped(undefined);
    await flush();
    const waiter = wrapped(undefined);
    await vi.advanceTimersByTimeAsync(1_000);
    gate.resolve('result');
    await vi.advanceTimersByTimeAsync(200);
    expect(await first).toBe('result');
    expect(await waiter).toBe('result');
    expect(runs).toBe(1);
    // 10, 20, 40, 80, 160, then every 200 ms: about 10 polls over 1.2 s, not hundreds
    expect(claim.mock.calls.length).toBeGreaterThan(5);
    expect(claim.mock.calls.length).toBeLessThan(14);
  });

  it('gives up with wait_timeout when the holder does not finish in time', async () => {
    const store = memoryIdempotencyStore();
    const wrapped = idempotent(async () => new Promise<never>(() => {}), {
      store,
      key: () => 'k',
      lease: 60_000,
      wait: { timeout: 1_000 },
    });
    void wrapped(undefined);
    await flush();
    const waiter = wrapped(undefined).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_000);
    const error = await waiter;
    expect(isIdempotencyInProgressError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'wait_timeout', key: 'k', leaseExpiresAt: Date.now() - 1_000 + 60_000 });
  });

  it('stays bounded under an injected clock that never moves', async () => {
    const store = memoryIdempotencyStore();
    const frozen = () => Date.UTC(2026, 0, 1);
    const wrapped = idempotent(async () => new Promise<never>(() => {}), {
      store,
      key: () => 'k',
      now: frozen,
      wait: { timeout: 2_000 },
    });
    void wrapped(undefined);
    await flush();
    const waiter = wrapped(undefined).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await waiter).toMatchObject({ code: 'wait_timeout' });
  });

  it('runs fn itself when the holder fails and releases the key', async () => {
    const store = memoryIdempotencyStore();
    const gate = deferred();
    const calls: string[] = [];
    const wrapped = idempotent(
      async (who: string) => {
        calls.push(who);
        if (who === 'first') {
          await gate.promise;
          throw new Error('first failed');
        }
        return who;
      },
      { store, key: () => 'k', wait: true },
    );
    const first = wrapped('first').catch((e: unknown) => e);
    await flush();
    const waiter = wrapped('waiter');
    await vi.advanceTimersByTimeAsync(100);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await first).toMatchObject({ message: 'first failed' });
    expect(await waiter).toBe('waiter');
    expect(calls).toEqual(['first', 'waiter']);
  });

  it('takes over from a dead holder once the lease expires, within the wait budget', async () => {
    const store = memoryIdempotencyStore();
    const calls: string[] = [];
    const wrapped = idempotent(
      async (who: string, ctx) => {
        calls.push(`${who}:${ctx.takeover}`);
        if (who === 'dead') return new Promise<string>(() => {});
        return who;
      },
      { store, key: () => 'k', lease: 5_000, wait: { timeout: 20_000 } },
    );
    void wrapped('dead');
    await flush();
    const waiter = wrapped('waiter');
    await vi.advanceTimersByTimeAsync(6_000);
    expect(await waiter).toBe('waiter');
    expect(calls).toEqual(['dead:false', 'waiter:true']);
  });

  it('without wait, rejects at once with in_progress', async () => {
    const wrapped = idempotent(async () => new Promise<never>(() => {}), {
      store: memoryIdempotencyStore(),
      key: () => 'k',
    });
    void wrapped(undefined);
    await flush();
    await expect(wrapped(undefined)).rejects.toBeInstanceOf(IdempotencyInProgressError);
  });
});

describe('idempotent() purging and store failures', () => {
  it('purges expired records on the first call, then at most once per interval', async () => {
    const store = memoryIdempotencyStore();
    const purge = vi.spyOn(store, 'purgeExpired');
    const wrapped = idempotent(async (s: string) => s, { store, key: (s) => s, purgeInterval: 60_000 });
    await wrapped('a');
    await wrapped('b');
    expect(purge).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(59_999);
    await wrapped('c');
    expect(purge).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    await wrapped('d');
    expect(purge).toHaveBeenCalledTimes(2);
    expect(purge).toHaveBeenLastCalledWith(Date.now());
  });

  it('actually removes records past retention through the background purge', async () => {
    const store = memoryIdempotencyStore();
    const wrapped = idempotent(async (s: string) => s, { store, key: (s) => s, retention: 1_000, purgeInterval: 0 });
    await wrapped('old');
    await vi.advanceTimersByTimeAsync(1_000);
    await wrapped('new');
    await flush();
    expect(await store.get('old')).toBeUndefined();
    expect(await store.get('new')).toBeDefined();
  });

  it('never purges with purgeInterval: false, and ignores a failing background purge', async () => {
    const store = memoryIdempotencyStore();
    const purge = vi.spyOn(store, 'purgeExpired');
    await idempotent(async () => 1, { store, key: () => 'a', purgeInterval: false })(undefined);
    expect(purge).not.toHaveBeenCalled();
    purge.mockRejectedValue(new Error('db down'));
    expect(await idempotent(async () => 2, { store, key: () => 'b' })(undefined)).toBe(2);
    expect(purge).toHaveBeenCalledTimes(1);
  });

  it('surfaces a store failure on claim without running fn', async () => {
    const store = memoryIdempotencyStore();
    const down = new Error('store unreachable');
    vi.spyOn(store, 'claim').mockRejectedValue(down);
    const fn = vi.fn(async () => 1);
    await expect(idempotent(fn, { store, key: () => 'k' })(undefined)).rejects.toBe(down);
    expect(fn).not.toHaveBeenCalled();
  });

  it("rethrows fn's own error when releasing the key fails too", async () => {
    const store = memoryIdempotencyStore();
    vi.spyOn(store, 'release').mockRejectedValue(new Error('store unreachable'));
    const boom = new Error('boom');
    const wrapped = idempotent(
      async () => {
        throw boom;
      },
      { store, key: () => 'k', lease: 1_000 },
    );
    await expect(wrapped(undefined)).rejects.toBe(boom);
    // the key frees itself when the lease runs out
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await store.claim({ ...claimNow('k'), fingerprint: null })).claimed).toBe(true);
  });

  it("rethrows fn's own error when storing a cached failure fails", async () => {
    const store = memoryIdempotencyStore();
    vi.spyOn(store, 'complete').mockRejectedValue(new Error('store unreachable'));
    const boom = new Error('boom');
    const wrapped = idempotent(
      async () => {
        throw boom;
      },
      { store, key: () => 'k', cacheErrors: true },
    );
    await expect(wrapped(undefined)).rejects.toBe(boom);
  });

  it('treats a throwing cacheErrors function as "do not cache" and releases the key', async () => {
    const store = memoryIdempotencyStore();
    const boom = new Error('boom');
    let runs = 0;
    const wrapped = idempotent(
      async () => {
        runs++;
        throw boom;
      },
      {
        store,
        key: () => 'k',
        cacheErrors: () => {
          throw new Error('predicate bug');
        },
      },
    );
    await expect(wrapped(undefined)).rejects.toBe(boom);
    await expect(wrapped(undefined)).rejects.toBe(boom);
    expect(runs).toBe(2);
  });

  it('reports lease_lost when the completion finds another holder', async () => {
    const store: IdempotencyStore = { ...memoryIdempotencyStore(), complete: async () => false };
    await expect(idempotent(async () => 1, { store, key: () => 'k' })(undefined)).rejects.toMatchObject({
      code: 'lease_lost',
    });
  });
});

function claimNow(key: string) {
  const now = Date.now();
  return { key, token: 'probe', now, leaseUntil: now + 1, expiresAt: now + 1 };
}

describe('idempotent() lease extension', () => {
  it('rejects a bad extension with invalid_options', async () => {
    const results: unknown[] = [];
    const wrapped = idempotent(
      async (ms: number, ctx) => {
        results.push(await ctx.extendLease(ms).catch((e: unknown) => e));
      },
      { store: memoryIdempotencyStore(), key: String },
    );
    for (const ms of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1e20]) await wrapped(ms);
    expect(results).toHaveLength(5);
    for (const r of results) expect(r).toMatchObject({ code: 'invalid_options' });
  });

  it('extends by the lease option by default', async () => {
    const store = memoryIdempotencyStore();
    let extended = 0;
    await idempotent(
      async (_: undefined, ctx) => {
        await vi.advanceTimersByTimeAsync(1_000);
        extended = await ctx.extendLease();
      },
      { store, key: () => 'k', lease: 5_000 },
    )(undefined);
    expect(extended).toBe(Date.now() + 5_000);
  });
});

describe('idempotency errors', () => {
  it('are BallastErrors with scoped messages, codes and working guards', () => {
    const inProgress = new IdempotencyInProgressError('in_progress', 'k', 0);
    const conflict = new IdempotencyConflictError('k');
    const cached = new IdempotencyCachedError('k', { name: 'TypeError', message: 'x' });
    const plain = new IdempotencyError('idempotent', 'invalid_key', 'bad');
    for (const e of [inProgress, conflict, cached, plain]) {
      expect(isBallastError(e)).toBe(true);
      expect(isIdempotencyError(e)).toBe(true);
      expect(e.message).toMatch(/^\[@ballast\/core\] \[idempotent\] /);
    }
    expect(inProgress).toMatchObject({ name: 'IdempotencyInProgressError', code: 'in_progress', key: 'k' });
    expect(conflict).toMatchObject({ name: 'IdempotencyConflictError', code: 'fingerprint_mismatch' });
    expect(cached).toMatchObject({ name: 'IdempotencyCachedError', code: 'cached_error' });
    expect(isIdempotencyInProgressError(conflict)).toBe(false);
    expect(isIdempotencyConflictError(conflict)).toBe(true);
    expect(isIdempotencyCachedError(cached)).toBe(true);
    expect(isIdempotencyError(new Error('x'))).toBe(false);
  });
});

describe('idempotent() types', () => {
  it('gives fn a transaction only in transactional mode, on a store that has transactions', () => {
    const store = memoryIdempotencyStore();
    // @ts-expect-error transactional mode needs a TransactionalIdempotencyStore
    expect(() => idempotent(async () => 1, { store, key: String, transactional: true })).toThrow(
      /needs a store with transaction\(\)/,
    );
    // @ts-expect-error a plain call has no `tx` in its context
    expect(idempotent(async (_: string, ctx) => ctx.tx, { store, key: (s) => s })).toBeTypeOf('function');
    const wrapped = idempotent(async (n: number) => ({ n }), { store, key: String });
    const typed: (input: number) => Promise<{ n: number }> = wrapped;
    expect(typed).toBe(wrapped);
  });
});
