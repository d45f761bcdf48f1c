import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl } from '../../../../test-support/services';
import { pgliteDatabase, postgresDatabase, type TestDatabase } from '../inbox/testdata/databases';
import { migrate } from '../stores/migrate';
import { type BulkCheckpointStore, memoryBulkCheckpoints } from './checkpoint';
import { isBulkError } from './errors';
import { sqlBulkCheckpoints } from './sql-checkpoint';

function contract(name: string, open: () => Promise<{ store: BulkCheckpointStore; close(): Promise<void> }>) {
  describe(`bulk checkpoint store: ${name}`, () => {
    let store: BulkCheckpointStore;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, close } = await open());
    });
    afterAll(() => close());

    it('keeps the last state per key, the id once known, and the error of a failure', async () => {
      expect(await store.load('job-a')).toEqual([]);
      await store.save('job-a', [
        { key: 'k1', status: 'sent', action: 'create' },
        { key: 'k2', status: 'done', action: 'update', id: '2' },
      ]);
      await store.save('job-a', [
        { key: 'k1', status: 'done', action: 'create', id: '11' },
        { key: 'k3', status: 'failed', action: 'create', error: { code: 'validation', message: 'bad', status: 400 } },
        { key: 'k3', status: 'failed', action: 'update', error: { code: 'not_found', message: 'gone', status: 404 } },
      ]);
      await store.save('job-b', [{ key: 'k1', status: 'sent', action: 'create' }]);
      const byKey = (states: Awaited<ReturnType<BulkCheckpointStore['load']>>) =>
        [...states].sort((a, b) => a.key.localeCompare(b.key));
      expect(byKey(await store.load('job-a'))).toEqual([
        { key: 'k1', status: 'done', action: 'create', id: '11' },
        { key: 'k2', status: 'done', action: 'update', id: '2' },
        { key: 'k3', status: 'failed', action: 'update', error: { code: 'not_found', message: 'gone', status: 404 } },
      ]);
      expect(await store.load('job-b')).toEqual([{ key: 'k1', status: 'sent', action: 'create' }]);
    });

    it('keeps one state for keys that differ only in lone surrogates given in one save', async () => {
      await store.save('job-lone', [
        { key: 'k\ud800', status: 'sent', action: 'create' },
        { key: 'k\udc00', status: 'done', action: 'create', id: '7' },
      ]);
      const states = await store.load('job-lone');
      expect(states.filter((s) => s.status === 'done')).toHaveLength(1);
      expect(states.find((s) => s.status === 'done')).toMatchObject({ id: '7' });
    });

    it('keeps a summary per job and forgets a deleted job', async () => {
      expect(await store.getJob('job-c')).toBeUndefined();
      const summary = {
        status: 'paused' as const,
        total: 10,
        done: 4,
        failed: 1,
        resumeAfter: '2026-12-08T00:00:00.000Z',
        updatedAt: '2026-12-07T12:00:00.000Z',
      };
      await store.saveJob('job-c', summary);
      expect(await store.getJob('job-c')).toEqual(summary);
      await store.saveJob('job-c', { ...summary, status: 'completed', done: 9 });
      expect(await store.getJob('job-c')).toMatchObject({ status: 'completed', done: 9 });
      await store.save('job-c', [{ key: 'k', status: 'done', action: 'create', id: '1' }]);
      await store.delete('job-c');
      expect(await store.getJob('job-c')).toBeUndefined();
      expect(await store.load('job-c')).toEqual([]);
    });

    it('rejects a job name that is not one, typed', async () => {
      for (const job of ['', 'a b', 'x'.repeat(201)]) {
        const error = await store.load(job).catch((e: unknown) => e);
        expect(isBulkError(error) && error.code).toBe('invalid_options');
      }
    });
  });
}

contract('memory', async () => ({ store: memoryBulkCheckpoints(), close: async () => undefined }));
const sql = (open: () => Promise<TestDatabase>) => async () => {
  const database = await open();
  await migrate(database.db, { schema: database.schema, modules: ['bulk'] });
  return { store: sqlBulkCheckpoints(database.db, { schema: database.schema }), close: () => database.drop() };
};
contract('pglite', sql(pgliteDatabase));
const url = databaseUrl();
if (url)
  contract(
    'postgres',
    sql(() => postgresDatabase(url, 'bulk_cp', 2)),
  );
else describe.skip('bulk checkpoint store: postgres (skipped: DATABASE_URL is not set)', () => undefined);

describe('sqlBulkCheckpoints without migrations', () => {
  it('fails with store_failed, not a raw driver error', async () => {
    const database = await pgliteDatabase();
    try {
      const error = await sqlBulkCheckpoints(database.db)
        .load('j')
        .catch((e: unknown) => e);
      expect(isBulkError(error) && error.code).toBe('store_failed');
    } finally {
      await database.drop();
    }
  });
});
