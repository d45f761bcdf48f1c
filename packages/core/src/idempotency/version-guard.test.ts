import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { createPostgres } from '../stores/postgres';
import { createPostgresJs } from '../stores/postgresjs';
import type { SqlClient } from '../stores/sql';
import { memoryVersionStore } from './memory-store';
import { sqlVersionStore } from './sql-store';
import type { VersionStore } from './store';
import { versionGuard } from './version-guard';

/** The version guard behaviour every VersionStore driver must give. */
function versionGuardContract(create: () => VersionStore) {
  it('applies the first version, then only newer ones', async () => {
    const guard = versionGuard({ store: create(), scope: `s:${randomUUID()}` });
    const id = 'obj_1';
    expect(await guard.current(id)).toBeUndefined();
    expect(await guard.apply(id, 100)).toBe(true);
    expect(await guard.apply(id, 99)).toBe(false);
    expect(await guard.apply(id, 100)).toBe(false);
    expect(await guard.apply(id, 101)).toBe(true);
    expect(await guard.current(id)).toBe(101);
  });

  it('with applyEqual also applies an equal version, never an older one', async () => {
    const guard = versionGuard({ store: create(), scope: `s:${randomUUID()}`, applyEqual: true });
    expect(await guard.apply('o', 5)).toBe(true);
    expect(await guard.apply('o', 5)).toBe(true);
    expect(await guard.apply('o', 4)).toBe(false);
  });

  it('keeps objects and scopes apart', async () => {
    const store = create();
    const scope = `s:${randomUUID()}`;
    const a = versionGuard({ store, scope: `${scope}:a` });
    const b = versionGuard({ store, scope: `${scope}:b` });
    expect(await a.apply('same-id', 10)).toBe(true);
    expect(await b.apply('same-id', 1)).toBe(true);
    expect(await a.apply('other-id', 1)).toBe(true);
    expect(await a.current('same-id')).toBe(10);
    expect(await b.current('same-id')).toBe(1);
  });

  it('handles negative, zero and large safe-integer versions (ms timestamps, sequences)', async () => {
    const guard = versionGuard({ store: create(), scope: `s:${randomUUID()}` });
    expect(await guard.apply('o', -5)).toBe(true);
    expect(await guard.apply('o', 0)).toBe(true);
    expect(await guard.apply('o', Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(await guard.current('o')).toBe(Number.MAX_SAFE_INTEGER);
    expect(await guard.apply('o', Number.MAX_SAFE_INTEGER - 1)).toBe(false);
  });

  it('under concurrent out-of-order updates ends on the highest version, and a replay applies nothing', async () => {
    const guard = versionGuard({ store: create(), scope: `s:${randomUUID()}` });
    const versions = Array.from({ length: 40 }, (_, i) => (i * 7919) % 40); // a permutation of 0..39
    const applied = await Promise.all(versions.map((v) => guard.apply('o', v)));
    expect(await guard.current('o')).toBe(39);
    expect(applied[versions.indexOf(39)]).toBe(true);
    // replaying the whole batch applies nothing more
    expect((await Promise.all(versions.map((v) => guard.apply('o', v)))).some(Boolean)).toBe(false);
  });
}

describe('versionGuard options and inputs', () => {
  const store = memoryVersionStore();
  const bad: [string, unknown, RegExp][] = [
    ['options not an object', undefined, /options must be an object/],
    ['no store', {}, /store must be a VersionStore/],
    ['a store without get', { store: { apply: store.apply } }, /store must be a VersionStore/],
    ['an empty scope', { store, scope: '' }, /scope must be a non-empty string/],
    ['a scope too long', { store, scope: 's'.repeat(201) }, /scope must be/],
    ['applyEqual as text', { store, applyEqual: 'yes' }, /applyEqual must be a boolean/],
    ['now not a function', { store, now: 1 }, /now must be a function/],
  ];
  it.each(bad)('rejects %s with invalid_options', (_, options, message) => {
    expect(() => versionGuard(options as Parameters<typeof versionGuard>[0])).toThrow(message);
    expect(() => versionGuard(options as Parameters<typeof versionGuard>[0])).toThrow(
      expect.objectContaining({ name: 'IdempotencyError', code: 'invalid_options' }),
    );
  });

  const guard = versionGuard({ store });
  const badVersions: [string, unknown][] = [
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
    ['an unsafe integer', 2 ** 53],
    ['a string', '12'],
    ['a bigint', 12n],
  ];
  it.each(badVersions)('rejects %s as a version with invalid_version', async (_, version) => {
    await expect(guard.apply('o', version as number)).rejects.toThrow(
      expect.objectContaining({
        code: 'invalid_version',
        message: expect.stringMatching(/^\[@ballast\/core\] \[versionGuard\] /),
      }),
    );
  });

  it.each([
    ['an empty id', ''],
    ['a number', 5],
    ['an id over 1024 characters', 'x'.repeat(1025)],
  ])('rejects %s as an object id with invalid_key', async (_, id) => {
    await expect(guard.apply(id as string, 1)).rejects.toThrow(expect.objectContaining({ code: 'invalid_key' }));
    await expect(guard.current(id as string)).rejects.toThrow(expect.objectContaining({ code: 'invalid_key' }));
  });

  it('rejects a bad client or schema for the SQL store with invalid_options', () => {
    const db = { query: async () => ({ rows: [], rowCount: 0 }), transaction: async () => undefined };
    expect(() => sqlVersionStore({} as SqlClient)).toThrow(expect.objectContaining({ code: 'invalid_options' }));
    expect(() => sqlVersionStore(db as unknown as SqlClient, { schema: 'no-dashes' })).toThrow(
      expect.objectContaining({ code: 'invalid_options', message: expect.stringMatching(/schema must be/) }),
    );
  });
});

describe('versionGuard [memory]', () => {
  versionGuardContract(() => memoryVersionStore());
});

function sqlSuite(open: () => Promise<SqlClient>) {
  let db: SqlClient;
  const schema = uniqueSchema('idvg');
  beforeAll(async () => {
    db = await open();
    await migrate(db, { schema, modules: ['idempotency'] });
  });
  afterAll(async () => {
    await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });
  versionGuardContract(() => sqlVersionStore(db, { schema }));

  it('inside a transaction, commits or rolls back with it', async () => {
    const guard = versionGuard({ store: sqlVersionStore(db, { schema }), scope: `s:${randomUUID()}` });
    await db.transaction(async (tx) => {
      expect(await guard.apply('o', 1, { tx })).toBe(true);
    });
    await expect(
      db.transaction(async (tx) => {
        expect(await guard.apply('o', 2, { tx })).toBe(true);
        expect(await guard.current('o', { tx })).toBe(2);
        throw new Error('handler failed');
      }),
    ).rejects.toThrow('handler failed');
    expect(await guard.current('o')).toBe(1);
  });

  it('records the injected clock as updated_at', async () => {
    const at = Date.UTC(2030, 5, 1);
    const scope = `s:${randomUUID()}`;
    await versionGuard({ store: sqlVersionStore(db, { schema }), scope, now: () => at }).apply('o', 1);
    const row = await db.query<{ ms: number }>(
      `SELECT (extract(epoch FROM updated_at) * 1000)::float8 AS ms FROM ${schema}.idempotency_versions WHERE scope = $1`,
      [scope],
    );
    expect(row.rows[0]?.ms).toBe(at);
  });
}

describe('versionGuard [pglite]', () => {
  sqlSuite(() => createPGlite());
});

describeWithPostgres('versionGuard', (url) => {
  sqlSuite(() => createPostgres({ connectionString: url, max: 8 }));
});

describeWithPostgres('versionGuard on postgres.js', (url) => {
  sqlSuite(() => createPostgresJs(url, { max: 8 }));
});
