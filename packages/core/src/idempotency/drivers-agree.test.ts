import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import type { SqlClient } from '../stores/sql';
import { memoryIdempotencyStore } from './memory-store';
import { sqlIdempotencyStore } from './sql-store';
import type { IdempotencyStore } from './store';

/**
 * Random sequences of store operations, applied to the memory driver and the
 * SQL driver side by side: every answer and every record must agree. The SQL
 * driver states the claim rules in SQL, the memory driver in JS, so this
 * checks the two statements of the same rules against each other.
 */

const KEYS = ['a', 'b'] as const;
const T0 = Date.UTC(2026, 0, 1);

type Op =
  | { op: 'claim'; key: number; fingerprint: string | null; lease: number; retention: number }
  | { op: 'complete'; key: number; token: number; failed: boolean; retention: number }
  | { op: 'release'; key: number; token: number }
  | { op: 'extend'; key: number; token: number; lease: number }
  | { op: 'purge' };

const step = fc.record({
  advance: fc.integer({ min: 0, max: 40 }),
  action: fc.oneof(
    fc.record({
      op: fc.constant('claim' as const),
      key: fc.integer({ min: 0, max: 1 }),
      fingerprint: fc.constantFrom(null, 'x', 'y'),
      lease: fc.integer({ min: 1, max: 30 }),
      retention: fc.integer({ min: 0, max: 60 }),
    }),
    fc.record({
      op: fc.constant('complete' as const),
      key: fc.integer({ min: 0, max: 1 }),
      token: fc.nat(),
      failed: fc.boolean(),
      retention: fc.integer({ min: 0, max: 60 }),
    }),
    fc.record({ op: fc.constant('release' as const), key: fc.integer({ min: 0, max: 1 }), token: fc.nat() }),
    fc.record({
      op: fc.constant('extend' as const),
      key: fc.integer({ min: 0, max: 1 }),
      token: fc.nat(),
      lease: fc.integer({ min: 1, max: 30 }),
    }),
    fc.constant({ op: 'purge' as const }),
  ),
});

/** Applies one operation and describes its answer in driver-neutral terms. */
async function apply(store: IdempotencyStore, prefix: string, action: Op, now: number, tokens: string[]) {
  const key = (i: number) => `${prefix}:${KEYS[i]}`;
  const token = (i: number) => tokens[i % Math.max(tokens.length, 1)] ?? 'none';
  switch (action.op) {
    case 'claim': {
      const t = `t${tokens.length}`;
      tokens.push(t);
      const leaseUntil = now + action.lease;
      const out = await store.claim({
        key: key(action.key),
        fingerprint: action.fingerprint,
        token: t,
        now,
        leaseUntil,
        expiresAt: leaseUntil + action.retention,
      });
      return out.claimed ? { claimed: true, takeover: out.takeover } : { claimed: false, holder: out.record.token };
    }
    case 'complete':
      return store.complete({
        key: key(action.key),
        token: token(action.token),
        state: action.failed ? 'failed' : 'succeeded',
        value: `{"v":${now}}`,
        now,
        expiresAt: now + action.retention,
      });
    case 'release':
      return store.release({ key: key(action.key), token: token(action.token) });
    case 'extend':
      return store.extend({
        key: key(action.key),
        token: token(action.token),
        now,
        leaseUntil: now + action.lease,
        expiresAt: now + action.lease,
      });
    case 'purge':
      return store.purgeExpired(now);
  }
}

describe('memory and SQL idempotency stores agree on random operation sequences [pglite]', () => {
  let db: SqlClient;
  const schema = uniqueSchema('idfc');
  beforeAll(async () => {
    db = await createPGlite();
    await migrate(db, { schema, modules: ['idempotency'] });
  });
  afterAll(async () => {
    await db.close();
  });

  it('gives the same answers and leaves the same records', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const prefix = randomUUID();
        const memory = memoryIdempotencyStore();
        // each run gets its own keys, so purges only need to agree within the run
        const sql = sqlIdempotencyStore(db, { schema });
        await sql.purgeExpired(T0 + 1e12); // leftovers of earlier runs, so purge counts compare
        const tokensMemory: string[] = [];
        const tokensSql: string[] = [];
        let now = T0;
        for (const { advance, action } of steps) {
          now += advance;
          const expected = await apply(memory, prefix, action, now, tokensMemory);
          const actual = await apply(sql, prefix, action, now, tokensSql);
          expect({ action, now, answer: actual }).toEqual({ action, now, answer: expected });
          for (let i = 0; i < KEYS.length; i++) {
            const k = `${prefix}:${KEYS[i]}`;
            expect(await sql.get(k)).toEqual(await memory.get(k));
          }
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
