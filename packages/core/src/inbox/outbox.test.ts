import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { createPostgres } from '../stores/postgres';
import type { SqlClient } from '../stores/sql';
import { isInboxError } from './errors';
import type { Inbox } from './inbox';
import { memoryInbox } from './memory';
import { sqlInbox } from './sql';
import { createInboxWorker } from './worker';

/** `ingest(..., { tx })`: the event commits or rolls back with the caller's own writes. */
function outboxContract(open: () => Promise<{ db: SqlClient; schema: string; close(): Promise<void> }>) {
  let db: SqlClient;
  let inbox: Inbox;
  let orders: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const opened = await open();
    db = opened.db;
    close = opened.close;
    orders = `${opened.schema}.outbox_orders`;
    await db.exec(`CREATE TABLE ${orders} (id text PRIMARY KEY)`);
    inbox = sqlInbox(db, { schema: opened.schema });
  });
  afterAll(async () => {
    await inbox.close();
    await close();
  });

  it('leaves no event when the caller’s transaction rolls back', async () => {
    const failed = await db
      .transaction(async (tx) => {
        await tx.query(`INSERT INTO ${orders} (id) VALUES ('o1')`);
        const result = await inbox.ingest('shop', { id: 'evt_rb', payload: { type: 'order.created' } }, { tx });
        expect(result.outcome).toBe('stored'); // stored inside the transaction...
        throw new Error('the order could not be saved');
      })
      .catch((e: unknown) => e);
    expect((failed as Error).message).toBe('the order could not be saved');
    expect(await inbox.get('shop', 'evt_rb')).toBeNull(); // ...and gone with it
    expect((await db.query(`SELECT id FROM ${orders}`)).rows).toEqual([]);
  });

  it('stores the event with the caller’s writes when it commits, and a worker processes it', async () => {
    await db.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${orders} (id) VALUES ('o2')`);
      await inbox.ingest('shop', { id: 'evt_ok', payload: { type: 'order.created', order: 'o2' } }, { tx });
    });
    const ran: unknown[] = [];
    const worker = createInboxWorker({
      inbox,
      source: 'shop',
      on: { 'order.created': async (event) => void ran.push(event.payload) },
      onError: () => {},
    });
    await worker.start();
    try {
      await worker.drain();
      expect(ran).toEqual([{ type: 'order.created', order: 'o2' }]);
      expect(await inbox.get('shop', 'evt_ok')).toMatchObject({ status: 'processed' });
    } finally {
      await worker.stop();
    }
    // the same id again, in another transaction: a duplicate
    const again = await db.transaction((tx) =>
      inbox.ingest('shop', { id: 'evt_ok', payload: { type: 'order.created' } }, { tx }),
    );
    expect(again.outcome).toBe('duplicate');
  });
}

describe('ingest in the caller’s transaction on PGlite', () => {
  outboxContract(async () => {
    const db = await createPGlite();
    await migrate(db, { schema: 'outbox' });
    return { db, schema: 'outbox', close: () => db.close() };
  });
});

describeWithPostgres('ingest in the caller’s transaction', (url) => {
  outboxContract(async () => {
    const schema = uniqueSchema('outbox');
    const db = await createPostgres({ connectionString: url, max: 4 });
    await migrate(db, { schema });
    return {
      db,
      schema,
      close: async () => {
        await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await db.close();
      },
    };
  });
});

describe('ingest with tx on the memory inbox', () => {
  it('is refused with invalid_options: a memory inbox cannot join a SQL transaction', async () => {
    const inbox = memoryInbox();
    const tx = { query: async () => ({ rows: [], rowCount: 0 }) };
    const error = await inbox.ingest('s', { id: 'e', payload: {} }, { tx }).catch((e: unknown) => e);
    expect(isInboxError(error) && error.code).toBe('invalid_options');
    expect((await inbox.counts()).total).toBe(0);
  });
});
