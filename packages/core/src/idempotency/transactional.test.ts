import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { createPostgres } from '../stores/postgres';
import { createPostgresJs } from '../stores/postgresjs';
import { type SqlClient, sqlNames } from '../stores/sql';
import { idempotent } from './idempotent';
import { sqlIdempotencyStore, sqlVersionStore } from './sql-store';
import type { TransactionalIdempotencyStore } from './store';
import { versionGuard } from './version-guard';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

/** Polls a condition until it holds, for up to 10 s. */
async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached within 10 s');
    await new Promise<void>((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Transactional mode against one SQL driver. `concurrentTransactions` is
 * false for PGlite: one connection, so a second caller waits for an open
 * transaction instead of running beside it.
 */
function transactionalSuite(open: () => Promise<SqlClient>, concurrentTransactions: boolean) {
  let db: SqlClient;
  let store: TransactionalIdempotencyStore;
  const schema = uniqueSchema('idtx');
  const ledger = sqlNames(schema).table('ledger');
  const rows = async (id: string) =>
    (await db.query<{ id: string }>(`SELECT id FROM ${ledger} WHERE id LIKE $1 ORDER BY id`, [`${id}%`])).rows.map(
      (r) => r.id,
    );

  beforeAll(async () => {
    db = await open();
    await migrate(db, { schema, modules: ['idempotency'] });
    await db.exec(`CREATE TABLE ${ledger} (id text PRIMARY KEY, amount integer NOT NULL)`);
    store = sqlIdempotencyStore(db, { schema });
  });
  afterAll(async () => {
    await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });

  it("commits fn's writes and the result together, once", async () => {
    const id = randomUUID();
    const charge = idempotent(
      async (amount: number, { tx }) => {
        await tx.query(`INSERT INTO ${ledger} (id, amount) VALUES ($1, $2)`, [id, amount]);
        return { charged: amount };
      },
      { store, key: () => `charge:${id}`, transactional: true, purgeInterval: false },
    );
    expect(await charge(500)).toEqual({ charged: 500 });
    expect(await charge(500)).toEqual({ charged: 500 });
    expect(await rows(id)).toEqual([id]);
    expect(await store.get(`charge:${id}`)).toMatchObject({ state: 'succeeded' });
  });

  it("rolls back fn's writes when it throws, and releases the key for a retry", async () => {
    const id = randomUUID();
    let attempt = 0;
    const charge = idempotent(
      async (_: undefined, { tx }) => {
        attempt++;
        await tx.query(`INSERT INTO ${ledger} (id, amount) VALUES ($1, 1)`, [`${id}:${attempt}`]);
        if (attempt === 1) throw new Error('provider said no');
        return attempt;
      },
      { store, key: () => id, transactional: true, purgeInterval: false },
    );
    await expect(charge(undefined)).rejects.toThrow('provider said no');
    expect(await rows(id)).toEqual([]);
    expect(await store.get(id)).toBeUndefined();
    expect(await charge(undefined)).toBe(2);
    expect(await rows(id)).toEqual([`${id}:2`]);
  });

  it('rolls back and releases when the result cannot be stored', async () => {
    const id = randomUUID();
    let runs = 0;
    const fn = idempotent(
      async (_: undefined, { tx }) => {
        runs++;
        await tx.query(`INSERT INTO ${ledger} (id, amount) VALUES ($1, 1)`, [`${id}:${runs}`]);
        return { at: new Date(0) };
      },
      { store, key: () => id, transactional: true, purgeInterval: false },
    );
    await expect(fn(undefined)).rejects.toMatchObject({ code: 'not_serializable' });
    expect(await rows(id)).toEqual([]);
    expect(await store.get(id)).toBeUndefined();
    await expect(fn(undefined)).rejects.toMatchObject({ code: 'not_serializable' });
    expect(runs).toBe(2);
  });

  it('with cacheErrors rolls back the writes and stores the failure', async () => {
    const id = randomUUID();
    let runs = 0;
    const fn = idempotent(
      async (_: undefined, { tx }) => {
        runs++;
        await tx.query(`INSERT INTO ${ledger} (id, amount) VALUES ($1, 1)`, [id]);
        throw new RangeError('amount too large');
      },
      { store, key: () => id, transactional: true, cacheErrors: true, purgeInterval: false },
    );
    await expect(fn(undefined)).rejects.toThrow(RangeError);
    await expect(fn(undefined)).rejects.toMatchObject({
      code: 'cached_error',
      original: { name: 'RangeError', message: 'amount too large' },
    });
    expect(runs).toBe(1);
    expect(await rows(id)).toEqual([]);
  });

  it('applies a version guard inside the same transaction: rolled back with the handler', async () => {
    const guard = versionGuard({ store: sqlVersionStore(db, { schema }), scope: 'test:customer' });
    const objectId = randomUUID();
    const handle = idempotent(
      async (event: { id: string; version: number; fail?: boolean }, { tx }) => {
        if (!(await guard.apply(objectId, event.version, { tx }))) return 'stale';
        await tx.query(`INSERT INTO ${ledger} (id, amount) VALUES ($1, $2)`, [
          `${objectId}:${event.id}`,
          event.version,
        ]);
        if (event.fail) throw new Error('handler failed after the guard');
        return 'applied';
      },
      { store, key: (e) => `evt:${e.id}`, transactional: true, purgeInterval: false },
    );
    const e = (n: number) => `${randomUUID()}-${n}`;
    expect(await handle({ id: e(1), version: 10 })).toBe('applied');
    await expect(handle({ id: e(2), version: 20, fail: true })).rejects.toThrow('handler failed');
    expect(await guard.current(objectId)).toBe(10);
    expect(await handle({ id: e(3), version: 5 })).toBe('stale');
    expect(await handle({ id: e(4), version: 20 })).toBe('applied');
    expect(await guard.current(objectId)).toBe(20);
    expect(await rows(objectId)).toHaveLength(2);
  });

  if (concurrentTransactions) {
    it("rolls back a stale holder's writes after another call took its lease over", async () => {
      const id = randomUUID();
      const clock = { t: Date.UTC(2026, 0, 1) };
      const gate = deferred();
      const started: string[] = [];
      const fn = idempotent(
        async (who: string, { tx }) => {
          started.push(who);
          await tx.query(`INSERT INTO ${ledger} (id, amount) VALUES ($1, 1)`, [`${id}:${who}`]);
          if (who === 'stale') await gate.promise;
          return who;
        },
        { store, key: () => id, lease: 10_000, now: () => clock.t, transactional: true, purgeInterval: false },
      );
      const stale = fn('stale');
      await waitUntil(() => started.length === 1);
      clock.t += 10_000;
      expect(await fn('fresh')).toBe('fresh');
      gate.resolve();
      await expect(stale).rejects.toMatchObject({ code: 'lease_lost' });
      expect(await rows(id)).toEqual([`${id}:fresh`]);
      expect(await fn('again')).toBe('fresh');
      expect(await store.get(id)).toMatchObject({ state: 'succeeded', claims: 2 });
    });

    it("rolls back a stale holder's writes when it commits while the new holder still runs", async () => {
      const id = randomUUID();
      const clock = { t: Date.UTC(2026, 0, 1) };
      const gates = { stale: deferred(), fresh: deferred() };
      const started: string[] = [];
      const fn = idempotent(
        async (who: 'stale' | 'fresh', { tx }) => {
          started.push(who);
          await tx.query(`INSERT INTO ${ledger} (id, amount) VALUES ($1, 1)`, [`${id}:${who}`]);
          await gates[who].promise;
          return who;
        },
        { store, key: () => id, lease: 10_000, now: () => clock.t, transactional: true, purgeInterval: false },
      );
      const stale = fn('stale');
      await waitUntil(() => started.length === 1);
      clock.t += 10_000;
      const fresh = fn('fresh');
      await waitUntil(() => started.length === 2);
      gates.stale.resolve();
      await expect(stale).rejects.toMatchObject({ code: 'lease_lost' });
      gates.fresh.resolve();
      expect(await fresh).toBe('fresh');
      expect(await rows(id)).toEqual([`${id}:fresh`]);
    });
  } else {
    it('serializes a concurrent call behind the open transaction, which then replays', async () => {
      const id = randomUUID();
      const gate = deferred();
      let runs = 0;
      const fn = idempotent(
        async (_: undefined, { tx }) => {
          runs++;
          await tx.query(`INSERT INTO ${ledger} (id, amount) VALUES ($1, 1)`, [id]);
          await gate.promise;
          return 'once';
        },
        { store, key: () => id, transactional: true, purgeInterval: false },
      );
      const first = fn(undefined);
      await waitUntil(() => runs === 1);
      const second = fn(undefined);
      gate.resolve();
      expect(await first).toBe('once');
      expect(await second).toBe('once');
      expect(runs).toBe(1);
    });
  }
}

describe('idempotent() transactional [pglite]', () => {
  transactionalSuite(() => createPGlite(), false);
});

describeWithPostgres('idempotent() transactional', (url) => {
  transactionalSuite(() => createPostgres({ connectionString: url, max: 4 }), true);
});

describeWithPostgres('idempotent() transactional on postgres.js', (url) => {
  transactionalSuite(() => createPostgresJs(url, { max: 4 }), true);
});
