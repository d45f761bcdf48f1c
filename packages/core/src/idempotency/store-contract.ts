/**
 * The contract every idempotency store driver passes: `testIdempotencyStore({ name, create })`
 * from a driver's test file runs the same behaviour tests against it. Time is
 * passed explicitly (stores read no clock), so the suite needs no timers and
 * runs unchanged against memory, PGlite and Postgres.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isIdempotencyCachedError, isIdempotencyConflictError, isIdempotencyInProgressError } from './errors';
import { idempotent } from './idempotent';
import type { ClaimRequest, IdempotencyStore } from './store';

/** What {@link testIdempotencyStore} needs: a display name and a store factory (called once per test). */
export interface IdempotencyStoreContract {
  name: string;
  create: () => IdempotencyStore | Promise<IdempotencyStore>;
}

const T0 = Date.UTC(2026, 0, 1);
const LEASE = 30_000;
const RETENTION = 3_600_000;

/** A claim request at `now`, with a fresh token and the suite's lease and retention. */
function claimAt(key: string, now: number, overrides: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    key,
    fingerprint: null,
    token: randomUUID(),
    now,
    leaseUntil: now + LEASE,
    expiresAt: now + LEASE + RETENTION,
    ...overrides,
  };
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Runs the store contract, then `idempotent()` end to end, against one driver. */
export function testIdempotencyStore({ name, create }: IdempotencyStoreContract): void {
  const key = () => `k:${randomUUID()}`;

  describe(`IdempotencyStore contract: ${name}`, () => {
    it('claims a new key as running, with the claim token', async () => {
      const store = await create();
      const req = claimAt(key(), T0, { fingerprint: 'fp' });
      const out = await store.claim(req);
      expect(out).toMatchObject({ claimed: true, takeover: false });
      expect(out.record).toEqual({
        key: req.key,
        state: 'running',
        fingerprint: 'fp',
        token: req.token,
        value: null,
        claims: 1,
        leaseUntil: req.leaseUntil,
        expiresAt: req.expiresAt,
        createdAt: T0,
        updatedAt: T0,
      });
      expect(await store.get(req.key)).toEqual(out.record);
    });

    it('refuses a second claim while the lease runs and returns the holder', async () => {
      const store = await create();
      const first = claimAt(key(), T0);
      await store.claim(first);
      const second = await store.claim(claimAt(first.key, T0 + LEASE - 1));
      expect(second.claimed).toBe(false);
      expect(second.record).toMatchObject({ state: 'running', token: first.token, claims: 1 });
    });

    it('grants exactly one of many concurrent claims', async () => {
      const store = await create();
      const k = key();
      const outs = await Promise.all(Array.from({ length: 25 }, () => store.claim(claimAt(k, T0))));
      const winners = outs.filter((o) => o.claimed);
      expect(winners).toHaveLength(1);
      const token = winners[0]?.record.token;
      for (const o of outs) expect(o.record.token).toBe(token);
    });

    it('completes with the holder token and then returns the stored outcome', async () => {
      const store = await create();
      const req = claimAt(key(), T0);
      await store.claim(req);
      const done = await store.complete({
        key: req.key,
        token: req.token,
        state: 'succeeded',
        value: '{"v":42}',
        now: T0 + 5,
        expiresAt: T0 + 5 + RETENTION,
      });
      expect(done).toBe(true);
      const later = await store.claim(claimAt(req.key, T0 + LEASE * 10));
      expect(later.claimed).toBe(false);
      expect(later.record).toMatchObject({
        state: 'succeeded',
        value: '{"v":42}',
        token: req.token,
        updatedAt: T0 + 5,
        expiresAt: T0 + 5 + RETENTION,
      });
    });

    it('stores a failed outcome', async () => {
      const store = await create();
      const req = claimAt(key(), T0);
      await store.claim(req);
      const value = '{"v":{"name":"Error","message":"no"}}';
      const now = T0 + 1;
      expect(await store.complete({ ...req, state: 'failed', value, now, expiresAt: now + RETENTION })).toBe(true);
      expect(await store.get(req.key)).toMatchObject({ state: 'failed', value });
    });

    it('ignores complete and release with a token that does not hold the key', async () => {
      const store = await create();
      const req = claimAt(key(), T0);
      await store.claim(req);
      const wrong = randomUUID();
      const now = T0 + 1;
      expect(
        await store.complete({ key: req.key, token: wrong, state: 'succeeded', value: '{}', now, expiresAt: now }),
      ).toBe(false);
      expect(await store.release({ key: req.key, token: wrong })).toBe(false);
      expect(await store.get(req.key)).toMatchObject({ state: 'running', token: req.token, value: null });
      expect(await store.release({ key: key(), token: wrong })).toBe(false);
    });

    it('release deletes a running record so the key can be claimed again', async () => {
      const store = await create();
      const req = claimAt(key(), T0);
      await store.claim(req);
      expect(await store.release({ key: req.key, token: req.token })).toBe(true);
      expect(await store.get(req.key)).toBeUndefined();
      expect((await store.claim(claimAt(req.key, T0 + 1))).claimed).toBe(true);
    });

    it('neither completes twice nor releases a finished record', async () => {
      const store = await create();
      const req = claimAt(key(), T0);
      await store.claim(req);
      const done = { key: req.key, token: req.token, state: 'succeeded' as const, now: T0, expiresAt: T0 + RETENTION };
      expect(await store.complete({ ...done, value: '{"v":1}' })).toBe(true);
      expect(await store.complete({ ...done, value: '{"v":2}' })).toBe(false);
      expect(await store.release({ key: req.key, token: req.token })).toBe(false);
      expect(await store.get(req.key)).toMatchObject({ state: 'succeeded', value: '{"v":1}' });
    });

    it('takes over a running record once its lease expires, and fences the old holder out', async () => {
      const store = await create();
      const old = claimAt(key(), T0);
      await store.claim(old);
      const later = T0 + LEASE;
      const next = claimAt(old.key, later);
      const out = await store.claim(next);
      expect(out).toMatchObject({ claimed: true, takeover: true });
      expect(out.record).toMatchObject({ token: next.token, claims: 2, createdAt: T0, leaseUntil: later + LEASE });
      const stale = { key: old.key, token: old.token, state: 'succeeded' as const, value: '{"v":"stale"}' };
      expect(await store.complete({ ...stale, now: later + 1, expiresAt: later + RETENTION })).toBe(false);
      expect(await store.release({ key: old.key, token: old.token })).toBe(false);
      expect(await store.get(old.key)).toMatchObject({ state: 'running', token: next.token, value: null });
    });

    it('grants exactly one of many concurrent takeovers', async () => {
      const store = await create();
      const old = claimAt(key(), T0);
      await store.claim(old);
      const outs = await Promise.all(Array.from({ length: 20 }, () => store.claim(claimAt(old.key, T0 + LEASE + 1))));
      expect(outs.filter((o) => o.claimed)).toHaveLength(1);
      expect((await store.get(old.key))?.claims).toBe(2);
    });

    it('extends the lease of the holder only, never shortening the expiry', async () => {
      const store = await create();
      const req = claimAt(key(), T0);
      await store.claim(req);
      const moved = { leaseUntil: T0 + 3 * LEASE, expiresAt: T0 + 3 * LEASE };
      expect(await store.extend({ key: req.key, token: randomUUID(), now: T0 + 1, ...moved })).toBe(false);
      expect(await store.extend({ key: req.key, token: req.token, now: T0 + 1, ...moved })).toBe(true);
      expect(await store.get(req.key)).toMatchObject({
        leaseUntil: T0 + 3 * LEASE,
        expiresAt: req.expiresAt, // later than the requested one: kept
        updatedAt: T0 + 1,
      });
      expect((await store.claim(claimAt(req.key, T0 + 2 * LEASE))).claimed).toBe(false);
      expect(await store.claim(claimAt(req.key, T0 + 3 * LEASE))).toMatchObject({ claimed: true, takeover: true });
      expect(await store.extend({ key: req.key, token: req.token, now: T0 + 3 * LEASE, ...moved })).toBe(false);
    });

    it('does not extend a finished record', async () => {
      const store = await create();
      const req = claimAt(key(), T0);
      await store.claim(req);
      await store.complete({ ...req, state: 'succeeded', value: '{}', now: T0, expiresAt: T0 + RETENTION });
      const ext = { key: req.key, token: req.token, now: T0 + 1, leaseUntil: T0 + 9 * LEASE, expiresAt: T0 };
      expect(await store.extend(ext)).toBe(false);
      expect(await store.get(req.key)).toMatchObject({ state: 'succeeded', leaseUntil: req.leaseUntil });
    });

    it('takes over only with a compatible fingerprint (equal, or either side null)', async () => {
      const store = await create();
      const old = claimAt(key(), T0, { fingerprint: 'a' });
      await store.claim(old);
      const later = T0 + LEASE + 1;
      const other = await store.claim(claimAt(old.key, later, { fingerprint: 'b' }));
      expect(other.claimed).toBe(false);
      expect(other.record.fingerprint).toBe('a');
      const unfingerprinted = await store.claim(claimAt(old.key, later, { fingerprint: null }));
      expect(unfingerprinted.claimed).toBe(true);
    });

    it('keeps a finished record until it expires, then starts afresh', async () => {
      const store = await create();
      const req = claimAt(key(), T0, { fingerprint: 'a' });
      await store.claim(req);
      const expiresAt = T0 + RETENTION;
      await store.complete({ ...req, state: 'succeeded', value: '{}', now: T0, expiresAt });
      expect((await store.claim(claimAt(req.key, expiresAt - 1))).claimed).toBe(false);
      const again = await store.claim(claimAt(req.key, expiresAt, { fingerprint: 'b' }));
      expect(again).toMatchObject({ claimed: true, takeover: false });
      expect(again.record).toMatchObject({ state: 'running', claims: 1, createdAt: expiresAt, fingerprint: 'b' });
    });

    it('reads nothing for an unknown key, and hands out copies', async () => {
      const store = await create();
      expect(await store.get(key())).toBeUndefined();
      const req = claimAt(key(), T0);
      const out = await store.claim(req);
      out.record.state = 'succeeded';
      expect((await store.get(req.key))?.state).toBe('running');
    });

    it('purges expired records, and running ones only once their lease expired too', async () => {
      const store = await create();
      const now = T0 + 10 * RETENTION;
      const finishedOld = claimAt(key(), T0);
      const finishedNew = claimAt(key(), T0);
      const deadRunner = claimAt(key(), T0);
      const liveRunner = claimAt(key(), now - 1, { expiresAt: now - 1 + LEASE });
      for (const r of [finishedOld, finishedNew, deadRunner, liveRunner]) await store.claim(r);
      await store.complete({ ...finishedOld, state: 'succeeded', value: '{}', now: T0, expiresAt: now - 1 });
      await store.complete({ ...finishedNew, state: 'succeeded', value: '{}', now: T0, expiresAt: now + 1 });
      // a record whose expiry passed while its lease still runs (expiresAt before leaseUntil) must survive
      const oddRunner = claimAt(key(), now - 1, { expiresAt: now - 1 });
      await store.claim(oddRunner);

      const purged = await store.purgeExpired(now);
      expect(purged).toBeGreaterThanOrEqual(2);
      expect(await store.get(finishedOld.key)).toBeUndefined();
      expect(await store.get(deadRunner.key)).toBeUndefined();
      expect(await store.get(finishedNew.key)).toBeDefined();
      expect(await store.get(liveRunner.key)).toBeDefined();
      expect(await store.get(oddRunner.key)).toBeDefined();
      expect(await store.purgeExpired(now)).toBe(0);
    });
  });

  describe(`idempotent() on ${name}`, () => {
    /** A manual clock: stores read time only from it. */
    function clock() {
      const c = { t: T0, now: () => c.t };
      return c;
    }

    it('runs once per key and replays the stored result', async () => {
      const store = await create();
      let runs = 0;
      const c = clock();
      const fn = idempotent(
        async (input: { id: string; n: number }) => {
          runs++;
          return { id: input.id, doubled: input.n * 2, tags: ['a', null], nested: { ok: true } };
        },
        { store, key: (i) => `${name}:${i.id}`, now: c.now, purgeInterval: false },
      );
      const id = randomUUID();
      const first = await fn({ id, n: 21 });
      const second = await fn({ id, n: 21 });
      expect(first).toEqual({ id, doubled: 42, tags: ['a', null], nested: { ok: true } });
      expect(second).toEqual(first);
      expect(runs).toBe(1);
      await fn({ id: randomUUID(), n: 1 });
      expect(runs).toBe(2);
    });

    it('replays undefined and primitive results faithfully', async () => {
      const store = await create();
      const prefix = key();
      const results: unknown[] = [undefined, null, 0, '', false, 'x'];
      const fn = idempotent(async (i: number) => results[i], {
        store,
        key: (i) => `${prefix}:${i}`,
        purgeInterval: false,
      });
      for (let i = 0; i < results.length; i++) {
        expect(await fn(i)).toBe(results[i]);
        expect(await fn(i)).toBe(results[i]);
      }
    });

    it('rejects a concurrent call with IdempotencyInProgressError while the first runs', async () => {
      const store = await create();
      const gate = deferred();
      const busyKey = key();
      let runs = 0;
      const fn = idempotent(
        async () => {
          runs++;
          await gate.promise;
          return 'done';
        },
        { store, key: () => busyKey, purgeInterval: false },
      );
      const first = fn(undefined);
      await waitUntil(() => runs === 1);
      const err = await fn(undefined).catch((e: unknown) => e);
      expect(isIdempotencyInProgressError(err)).toBe(true);
      expect(err).toMatchObject({ code: 'in_progress', key: busyKey });
      gate.resolve();
      expect(await first).toBe('done');
      expect(await fn(undefined)).toBe('done');
      expect(runs).toBe(1);
    });

    it('releases the key when fn throws, so a retry runs it again', async () => {
      const store = await create();
      const k = key();
      let runs = 0;
      const boom = new Error('boom');
      const fn = idempotent(
        async () => {
          runs++;
          if (runs === 1) throw boom;
          return 'second time';
        },
        { store, key: () => k, purgeInterval: false },
      );
      await expect(fn(undefined)).rejects.toBe(boom);
      expect(await store.get(k)).toBeUndefined();
      expect(await fn(undefined)).toBe('second time');
      expect(runs).toBe(2);
    });

    it('with cacheErrors stores the failure and replays it as IdempotencyCachedError', async () => {
      const store = await create();
      const k = key();
      let runs = 0;
      const boom = Object.assign(new TypeError('card declined'), { code: 'card_declined' });
      const fn = idempotent(
        async () => {
          runs++;
          throw boom;
        },
        { store, key: () => k, cacheErrors: true, purgeInterval: false },
      );
      await expect(fn(undefined)).rejects.toBe(boom);
      const replayed = await fn(undefined).catch((e: unknown) => e);
      expect(isIdempotencyCachedError(replayed)).toBe(true);
      expect(replayed).toMatchObject({
        code: 'cached_error',
        original: { name: 'TypeError', message: 'card declined', code: 'card_declined' },
      });
      expect(runs).toBe(1);
    });

    it('cacheErrors as a function caches only the errors it selects', async () => {
      const store = await create();
      const prefix = key();
      const permanent = new Error('permanent');
      const transient = new Error('transient');
      let runs = 0;
      const fn = idempotent(
        async (which: 'p' | 't') => {
          runs++;
          throw which === 'p' ? permanent : transient;
        },
        { store, key: (w) => `${prefix}:${w}`, cacheErrors: (e) => e === permanent, purgeInterval: false },
      );
      await expect(fn('t')).rejects.toBe(transient);
      await expect(fn('t')).rejects.toBe(transient);
      await expect(fn('p')).rejects.toBe(permanent);
      await expect(fn('p')).rejects.toMatchObject({ code: 'cached_error' });
      expect(runs).toBe(3);
    });

    it('refuses the same key with a different fingerprint', async () => {
      const store = await create();
      const k = key();
      let runs = 0;
      const fn = idempotent(
        async (body: { amount: number }) => {
          runs++;
          return body.amount;
        },
        { store, key: () => k, fingerprint: (b) => String(b.amount), purgeInterval: false },
      );
      expect(await fn({ amount: 5 })).toBe(5);
      expect(await fn({ amount: 5 })).toBe(5);
      const err = await fn({ amount: 6 }).catch((e: unknown) => e);
      expect(isIdempotencyConflictError(err)).toBe(true);
      expect(err).toMatchObject({ code: 'fingerprint_mismatch', key: k });
      expect(runs).toBe(1);
    });

    it('takes over after a dead holder’s lease, and the stale holder cannot store its result', async () => {
      const store = await create();
      const c = clock();
      const k = key();
      const gate = deferred();
      const contexts: boolean[] = [];
      const fn = idempotent(
        async (who: string, ctx) => {
          contexts.push(ctx.takeover);
          if (who === 'stale') await gate.promise;
          return who;
        },
        { store, key: () => k, lease: LEASE, now: c.now, purgeInterval: false },
      );
      const stale = fn('stale');
      await waitUntil(() => contexts.length === 1);
      c.t += LEASE - 1;
      await expect(fn('early')).rejects.toMatchObject({ code: 'in_progress' });
      c.t += 1;
      expect(await fn('fresh')).toBe('fresh');
      gate.resolve();
      await expect(stale).rejects.toMatchObject({ name: 'IdempotencyError', code: 'lease_lost', key: k });
      expect(contexts).toEqual([false, true]);
      expect(await fn('later')).toBe('fresh');
      expect(await store.get(k)).toMatchObject({ state: 'succeeded', claims: 2 });
    });

    it('fences out a stale holder that finishes while the new holder still runs', async () => {
      const store = await create();
      const c = clock();
      const k = key();
      const gates = { stale: deferred(), fresh: deferred() };
      const started: string[] = [];
      const fn = idempotent(
        async (who: 'stale' | 'fresh') => {
          started.push(who);
          await gates[who].promise;
          return who;
        },
        { store, key: () => k, lease: LEASE, now: c.now, purgeInterval: false },
      );
      const stale = fn('stale');
      await waitUntil(() => started.length === 1);
      c.t += LEASE;
      const fresh = fn('fresh');
      await waitUntil(() => started.length === 2);
      gates.stale.resolve();
      await expect(stale).rejects.toMatchObject({ code: 'lease_lost' });
      expect(await store.get(k)).toMatchObject({ state: 'running', value: null });
      gates.fresh.resolve();
      expect(await fresh).toBe('fresh');
      expect(await fn('stale')).toBe('fresh');
    });

    it('keeps the key through an extended lease', async () => {
      const store = await create();
      const c = clock();
      const k = key();
      const gates = { extend: deferred(), finish: deferred() };
      const steps: string[] = [];
      const fn = idempotent(
        async (who: 'slow' | 'other', ctx) => {
          steps.push(`${who}:start`);
          if (who === 'other') return who;
          await gates.extend.promise;
          steps.push(`extended to +${(await ctx.extendLease()) - c.t}`);
          await gates.finish.promise;
          return who;
        },
        { store, key: () => k, lease: LEASE, now: c.now, purgeInterval: false },
      );
      const slow = fn('slow');
      await waitUntil(() => steps.length === 1);
      c.t += LEASE - 1;
      gates.extend.resolve();
      await waitUntil(() => steps.length === 2);
      c.t += LEASE - 1; // past the first lease, within the extended one
      await expect(fn('other')).rejects.toMatchObject({ code: 'in_progress' });
      gates.finish.resolve();
      expect(await slow).toBe('slow');
      expect(steps).toEqual(['slow:start', `extended to +${LEASE}`]);
      expect(await fn('other')).toBe('slow');
    });

    it('reports lease_lost to a holder that extends after another call took the key over', async () => {
      const store = await create();
      const c = clock();
      const k = key();
      const gate = deferred();
      const outcomes: unknown[] = [];
      const fn = idempotent(
        async (who: 'stale' | 'fresh', ctx) => {
          if (who === 'stale') {
            await gate.promise;
            outcomes.push(await ctx.extendLease().catch((e: unknown) => e));
          }
          return who;
        },
        { store, key: () => k, lease: LEASE, now: c.now, purgeInterval: false },
      );
      const stale = fn('stale');
      await waitUntil(async () => (await store.get(k)) !== undefined);
      c.t += LEASE;
      const freshToken = await fn('fresh').then(async () => (await store.get(k))?.token);
      gate.resolve();
      await expect(stale).rejects.toMatchObject({ code: 'lease_lost' });
      expect(outcomes).toEqual([expect.objectContaining({ code: 'lease_lost', key: k })]);
      expect(await store.get(k)).toMatchObject({ state: 'succeeded', token: freshToken });
    });

    it('refuses a result JSON cannot store, and does not run fn again for that key', async () => {
      const store = await create();
      const k = key();
      let runs = 0;
      const fn = idempotent(
        async () => {
          runs++;
          return { at: new Date(0) };
        },
        { store, key: () => k, purgeInterval: false },
      );
      await expect(fn(undefined)).rejects.toMatchObject({ name: 'IdempotencyError', code: 'not_serializable' });
      await expect(fn(undefined)).rejects.toMatchObject({ name: 'IdempotencyError', code: 'not_serializable' });
      expect(runs).toBe(1);
    });

    it('forgets a key after its retention: purged, and run again', async () => {
      const store = await create();
      const c = clock();
      const k = key();
      let runs = 0;
      const fn = idempotent(async () => ++runs, {
        store,
        key: () => k,
        retention: RETENTION,
        now: c.now,
        purgeInterval: false,
      });
      expect(await fn(undefined)).toBe(1);
      c.t += RETENTION - 1;
      expect(await fn(undefined)).toBe(1);
      c.t += 1;
      expect(await store.purgeExpired(c.t)).toBeGreaterThanOrEqual(1);
      expect(await store.get(k)).toBeUndefined();
      expect(await fn(undefined)).toBe(2);
    });
  });
}

/** Polls a condition until it holds, for up to 10 s (the suite runs on real timers). */
async function waitUntil(condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached within 10 s');
    await new Promise<void>((resolve) => setTimeout(resolve, 2));
  }
}
