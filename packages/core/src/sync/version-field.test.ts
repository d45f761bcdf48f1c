import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { createPostgres } from '../stores/postgres';
import type { SqlClient } from '../stores/sql';
import { isSyncError } from './errors';
import { syncTable } from './sync-table';

interface Contact {
  id: number;
  name: string;
  update_time: string | number | null;
}

const at = (second: number) => `2026-01-05 10:00:${String(second).padStart(2, '0')}`;

/** `versionField`: an older record never overwrites a newer stored row, by upsert or by run. */
function versionFieldSuite(open: () => Promise<SqlClient>) {
  let db: SqlClient;
  let schema: string;
  let n = 0;
  beforeAll(async () => {
    db = await open();
    schema = uniqueSchema('vf');
    await migrate(db, { schema, modules: ['sync'] });
  });
  afterAll(async () => {
    await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });
  const table = () =>
    syncTable<Contact>(db, { source: 'crm', entity: `contacts_${n++}`, schema, versionField: 'update_time' });

  it('upsert: an older record is not written and counts as unchanged; a newer or equal one is', async () => {
    const t = table();
    await t.upsert([{ id: 1, name: 'new', update_time: at(5) }]);
    const older = await t.upsert([{ id: 1, name: 'old', update_time: at(1) }]);
    expect(older).toMatchObject({ seen: 1, changed: 0, unchanged: 1 });
    expect((await t.get(1))?.data.name).toBe('new');
    expect(await t.upsert([{ id: 1, name: 'same second', update_time: at(5) }])).toMatchObject({ changed: 1 });
    expect(await t.upsert([{ id: 1, name: 'newer', update_time: '2026-01-05T10:00:09Z' }])).toMatchObject({
      changed: 1,
    });
    expect((await t.get(1))?.data.name).toBe('newer');
  });

  it('a run whose page is older than a row written meanwhile keeps the newer row, and a full run still counts it as seen', async () => {
    const t = table();
    await t.run(
      (async function* () {
        yield { records: [1, 2, 3].map((id) => ({ id, name: `v1-${id}`, update_time: at(1) })) };
      })(),
      { mode: 'full' },
    );
    // a webhook applies a newer state of 2
    await t.upsert([{ id: 2, name: 'from webhook', update_time: at(30) }]);
    // a full run whose page was read before that change
    const run = await t.run(
      (async function* () {
        yield {
          records: [
            { id: 1, name: 'v2-1', update_time: at(20) },
            { id: 2, name: 'stale page', update_time: at(10) },
            { id: 3, name: 'v1-3', update_time: at(1) },
          ],
        };
      })(),
      { mode: 'full' },
    );
    expect(run.counts).toMatchObject({ seen: 3, changed: 1, unchanged: 2, deleted: 0 });
    expect((await t.get(2))?.data.name).toBe('from webhook');
    expect((await t.get(1))?.data.name).toBe('v2-1');
    expect(await t.count()).toBe(3);
  });

  it('an older record does not bring back a row deleted after it; a newer one does', async () => {
    const t = table();
    await t.upsert([{ id: 7, name: 'last state', update_time: at(10) }]);
    await t.markDeleted([7]);
    await t.upsert([{ id: 7, name: 'late', update_time: at(3) }]);
    expect((await t.get(7))?.deletedAt).not.toBeNull();
    await t.upsert([{ id: 7, name: 'restored', update_time: at(40) }]);
    expect(await t.get(7)).toMatchObject({ deletedAt: null, data: { name: 'restored' } });
  });

  it('reads Unix seconds and ISO strings alike, and writes records or rows without a readable version', async () => {
    const t = table();
    await t.upsert([{ id: 1, name: 'secs', update_time: 1_767_607_300 }]);
    expect(await t.upsert([{ id: 1, name: 'older iso', update_time: '2026-01-05T10:00:00Z' }])).toMatchObject({
      unchanged: 1,
    });
    expect(await t.upsert([{ id: 1, name: 'no version', update_time: null }])).toMatchObject({ changed: 1 });
    expect(await t.upsert([{ id: 1, name: 'after a row without one', update_time: at(0) }])).toMatchObject({
      changed: 1,
    });
  });

  it('refuses an empty versionField', () => {
    let caught: unknown;
    try {
      syncTable(db, { source: 'crm', entity: 'x', schema, versionField: '' });
    } catch (error) {
      caught = error;
    }
    expect(isSyncError(caught) && caught.code).toBe('invalid_options');
  });
}

describe('sync versionField on PGlite', () => {
  versionFieldSuite(() => createPGlite());
});

describeWithPostgres('sync versionField', (url) => {
  versionFieldSuite(() => createPostgres({ connectionString: url, max: 4 }));
});
