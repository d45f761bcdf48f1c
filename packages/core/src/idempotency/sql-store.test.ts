import { afterAll, beforeAll, describe } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { createPostgres } from '../stores/postgres';
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
});
