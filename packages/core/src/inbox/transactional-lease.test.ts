import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import type { SqlClient } from '../stores/sql';
import { sqlInbox } from './sql';
import { pgliteDatabase, postgresDatabase, type TestDatabase } from './testdata/databases';
import { createInboxWorker } from './worker';

/**
 * Defect 1 of issue 10: in transactional mode a heartbeat that fires while the
 * handler's transaction is open must not wait for a connection that the
 * transaction holds. Real time and a real database: a 300 ms lease beats every
 * 100 ms, and each handler runs 400 ms inside its transaction, so several beats
 * fire inside it. On a single-connection database (PGlite), or a pool with no
 * more connections than running transactions, the old order locked for good.
 */

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves with `p`, or rejects once `ms` passed: a deadlock shows as a failure, not a hung suite. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (deadlock)`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

function transactionalLeaseSuite(openDb: () => Promise<TestDatabase>) {
  let db: SqlClient;
  let schema: string;
  let drop: () => Promise<void>;
  let hung = false;
  beforeAll(async () => {
    ({ db, schema, drop } = await openDb());
    await migrate(db, { schema });
    await db.exec(`CREATE TABLE ${schema}.effects (event_id text PRIMARY KEY, lease_seen timestamptz NOT NULL)`);
  });
  afterAll(async () => {
    if (!hung) await drop(); // a locked database cannot be closed
  });

  it('a heartbeat that fires inside the handler’s transaction extends the lease through it, without deadlock', async () => {
    const inbox = sqlInbox(db, { schema });
    const claimedUntil = new Map<string, number>();
    const worker = createInboxWorker({
      inbox,
      source: 'txlease',
      leaseMs: 300,
      concurrency: 2,
      sweepIntervalMs: false,
      idempotency: { transactional: true },
      on: {
        '*': async (event, ctx) => {
          claimedUntil.set(event.id, (event as { leaseUntil: Date }).leaseUntil.getTime());
          await sleep(400); // longer than the lease: beats fire while the transaction is open
          const tx = ctx.tx;
          if (!tx) throw new Error('expected a transaction');
          // the transaction sees its own lease extension, made by a beat inside it
          const row = (
            await tx.query<{ lease_until: Date }>(
              `SELECT lease_until FROM ${schema}.inbox_events WHERE source = 'txlease' AND event_id = $1`,
              [event.id],
            )
          ).rows[0];
          await tx.query(`INSERT INTO ${schema}.effects (event_id, lease_seen) VALUES ($1, $2)`, [
            event.id,
            row?.lease_until,
          ]);
        },
      },
    });
    await inbox.ingest('txlease', { id: 'a', payload: { type: 't' } });
    await inbox.ingest('txlease', { id: 'b', payload: { type: 't' } });
    try {
      await within(worker.drain(), 8000, 'drain');
      await within(worker.stop(), 2000, 'stop');
    } catch (error) {
      hung = true;
      throw error;
    }
    const effects = (
      await db.query<{ event_id: string; lease_seen: Date }>(
        `SELECT event_id, lease_seen FROM ${schema}.effects ORDER BY event_id`,
      )
    ).rows;
    expect(effects.map((e) => e.event_id)).toEqual(['a', 'b']);
    for (const e of effects) {
      expect(new Date(e.lease_seen).getTime()).toBeGreaterThan(
        claimedUntil.get(e.event_id) ?? Number.POSITIVE_INFINITY,
      );
    }
    expect(await inbox.counts({ source: 'txlease' })).toMatchObject({ processed: 2, processing: 0, total: 2 });
    // the database is still usable: ingest goes through
    expect((await within(inbox.ingest('txlease', { id: 'c', payload: { type: 't' } }), 2000, 'ingest')).outcome).toBe(
      'stored',
    );
  }, 15_000);
}

describe('transactional handler and lease heartbeat on PGlite (one connection)', () => {
  transactionalLeaseSuite(pgliteDatabase);
});

describeWithPostgres('transactional handler and lease heartbeat, pool of 2, concurrency 2', (url) => {
  transactionalLeaseSuite(() => postgresDatabase(url, 'inboxtx', 2));
});
