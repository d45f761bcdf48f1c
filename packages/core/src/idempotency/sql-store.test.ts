import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPgBouncer } from '../../../../test-support/pgbouncer';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { createPostgres } from '../stores/postgres';
import { createPostgresJs } from '../stores/postgresjs';
import type { SqlClient } from '../stores/sql';
import { sqlIdempotencyStore } from './sql-store';
import { testIdempotencyStore } from './store-contract';

function sqlContract(name: string, open: () => Promise<SqlClient>) {
  let db: SqlClient;
  const schema = uniqueSchema('idem');
  beforeAll(async () => {
    db = await open();
    await migrate(db, { schema, modules: ['idempotency'] });
  });
  afterAll(async () => {
    await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });
  testIdempotencyStore({ name, create: () => sqlIdempotencyStore(db, { schema }) });
}

describe('sqlIdempotencyStore [pglite]', () => {
  sqlContract('sql (pglite)', () => createPGlite());
});

describeWithPostgres('sqlIdempotencyStore', (url) => {
  sqlContract('sql (postgres)', () => createPostgres({ connectionString: url, max: 8 }));
  sqlContract('sql (postgres.js)', () => createPostgresJs(url, { max: 8 }));
});

describeWithPgBouncer('sqlIdempotencyStore', (url) => {
  sqlContract('sql (postgres.js, prepare: false)', () => createPostgresJs(url, { max: 8 }));
  sqlContract('sql (pg, unnamed statements)', () => createPostgres({ connectionString: url, max: 8 }));
});

describe('sqlIdempotencyStore options', () => {
  const db = {
    query: async () => ({ rows: [], rowCount: 0 }),
    transaction: async () => undefined,
  } as unknown as SqlClient;
  it.each([
    ['a missing client', undefined, {}, /db must be a SqlClient/],
    ['an object that is not a client', {}, {}, /db must be a SqlClient/],
    ['a schema that is not an identifier', db, { schema: 'drop table;' }, /schema must be a plain SQL identifier/],
    ['options that are not an object', db, 'ballast', /options must be an object/],
  ])('rejects %s with invalid_options', (_, client, options, message) => {
    const call = () => sqlIdempotencyStore(client as SqlClient, options as { schema?: string });
    expect(call).toThrow(message);
    expect(call).toThrow(expect.objectContaining({ name: 'IdempotencyError', code: 'invalid_options' }));
  });
});
