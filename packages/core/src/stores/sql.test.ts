import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { isStoreError, StoreError } from './errors';
import { migrate } from './migrate';
import { createPGlite } from './pglite';
import { createPostgres } from './postgres';
import { createPostgresJs, postgresJsClient, postgresJsJsonType } from './postgresjs';
import { type SqlClient, type SqlExecutor, sqlNames } from './sql';

/** The SqlClient contract: every driver must pass these. */
function sqlClientContract(open: () => Promise<SqlClient>) {
  let db: SqlClient;
  const schema = uniqueSchema('sqlc');
  const t = sqlNames(schema).table('items');

  beforeAll(async () => {
    db = await open();
    await db.exec(`CREATE SCHEMA ${schema}; CREATE TABLE ${t} (id int PRIMARY KEY, v text NOT NULL);`);
  });
  afterAll(async () => {
    await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });

  it('runs parameterized queries and reports row counts', async () => {
    const ins = await db.query(`INSERT INTO ${t} (id, v) VALUES ($1, $2), ($3, $4)`, [1, 'a', 2, 'b']);
    expect(ins.rowCount).toBe(2);
    const sel = await db.query<{ id: number; v: string }>(`SELECT id, v FROM ${t} ORDER BY id`);
    expect(sel.rows).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
    ]);
  });

  it('commits a transaction that resolves', async () => {
    const out = await db.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${t} (id, v) VALUES (3, 'c')`);
      return 'done';
    });
    expect(out).toBe('done');
    expect((await db.query(`SELECT 1 FROM ${t} WHERE id = 3`)).rows).toHaveLength(1);
  });

  it('rolls back a transaction that throws and rethrows its error', async () => {
    const boom = new Error('boom');
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${t} (id, v) VALUES (4, 'd')`);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect((await db.query(`SELECT 1 FROM ${t} WHERE id = 4`)).rows).toHaveLength(0);
  });

  it('refuses queries on a transaction executor once the transaction has ended', async () => {
    let kept: SqlExecutor | undefined;
    await expect(
      db.transaction(async (tx) => {
        kept = tx;
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    const late = await kept?.query(`INSERT INTO ${t} (id, v) VALUES (5, 'late')`).catch((e: unknown) => e);
    expect(isStoreError(late) && late.code).toBe('transaction_closed');
    await db.transaction(async (tx) => {
      kept = tx;
    });
    await expect(kept?.query('SELECT 1')).rejects.toMatchObject({ code: 'transaction_closed' });
    expect((await db.query(`SELECT 1 FROM ${t} WHERE id = 5`)).rows).toHaveLength(0);
  });

  it('surfaces SQL errors as rejections', async () => {
    await expect(db.query(`INSERT INTO ${t} (id, v) VALUES (1, 'dup')`)).rejects.toThrow();
  });
}

function migrateContract(open: () => Promise<SqlClient>) {
  it('applies migrations once, even when run concurrently', async () => {
    const schema = uniqueSchema('mig');
    const dbs = [await open(), await open()];
    try {
      const results = await Promise.all([...dbs, ...dbs].map((db) => migrate(db, { schema })));
      const appliedCounts = results.map((r) => r.applied.length);
      // exactly one run applied everything; the others found nothing left
      expect(appliedCounts.filter((n) => n > 0).length).toBeLessThanOrEqual(1);
      const again = await migrate(dbs[0] as SqlClient, { schema });
      expect(again.applied).toEqual([]);
      const ledger = await (dbs[0] as SqlClient).query(`SELECT count(*)::int AS n FROM ${schema}.schema_migrations`);
      expect(ledger.rows[0]).toEqual({ n: results.reduce((sum, r) => sum + r.applied.length, 0) });
    } finally {
      await (dbs[0] as SqlClient).exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await Promise.all(dbs.map((db) => db.close()));
    }
  });

  it('migrates the modules a named module depends on, and no others', async () => {
    const schema = uniqueSchema('migdep');
    const db = await open();
    try {
      const { applied } = await migrate(db, { schema, modules: ['inbox'] });
      const modules = new Set(applied.map((id) => id.split('@')[0]));
      expect(modules).toEqual(new Set(['inbox', 'idempotency']));
    } finally {
      await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.close();
    }
  });

  it('rejects an unknown module name instead of migrating nothing', async () => {
    const db = await open();
    try {
      await expect(migrate(db, { modules: ['inbx'] })).rejects.toThrow(/unknown module "inbx"/);
      await expect(migrate(db, { modules: ['inbx'] })).rejects.toMatchObject({ code: 'unknown_module' });
      await expect(migrate(db, { modules: 'inbox' as never })).rejects.toMatchObject({ code: 'invalid_modules' });
      const error = await migrate(db, { modules: ['inbx'] }).catch((e: unknown) => e);
      expect(isStoreError(error)).toBe(true);
    } finally {
      await db.close();
    }
  });

  it('rejects a schema name that is not a plain identifier', async () => {
    const db = await open();
    try {
      await expect(migrate(db, { schema: 'x"; DROP TABLE y; --' })).rejects.toThrow(StoreError);
      await expect(migrate(db, { schema: 'x"; DROP TABLE y; --' })).rejects.toMatchObject({ code: 'invalid_schema' });
    } finally {
      await db.close();
    }
  });
}

describe('SqlClient on PGlite', () => {
  sqlClientContract(() => createPGlite());
  migrateContract(async () => {
    // one PGlite instance stands for one process; share it to exercise the lock path
    shared ??= await createPGlite();
    const db = shared;
    return { ...db, close: async () => {} };
  });
  let shared: SqlClient | undefined;
  afterAll(async () => shared?.close());
});

describeWithPostgres('SqlClient', (url) => {
  sqlClientContract(() => createPostgres({ connectionString: url, max: 4 }));
  migrateContract(() => createPostgres({ connectionString: url, max: 2 }));
});

describeWithPostgres('SqlClient on postgres.js', (url) => {
  sqlClientContract(() => createPostgresJs(url, { max: 4 }));
  migrateContract(() => createPostgresJs(url, { max: 2 }));

  it('stores JSON text bound to a jsonb parameter as the document, and refuses a client that would not', async () => {
    const db = await createPostgresJs(url, { max: 1 });
    try {
      const res = await db.query<{ kind: string; n: unknown }>(
        `SELECT jsonb_typeof($1::jsonb) AS kind, ($1::jsonb)->'n' AS n`,
        ['{"n":1}'],
      );
      expect(res.rows).toEqual([{ kind: 'object', n: 1 }]);
    } finally {
      await db.close();
    }
    const { default: postgres } = await import('postgres');
    const plain = postgres(url, { max: 1 });
    try {
      expect(() => postgresJsClient(plain)).toThrow(/postgresJsJsonType/);
      const custom = postgres(url, { max: 1, types: { json: postgresJsJsonType } });
      expect(typeof postgresJsClient(custom).transaction).toBe('function');
      await custom.end();
    } finally {
      await plain.end();
    }
  });
});
