/** The databases the inbox's SQL suites run on: an in-memory PGlite, or a fresh schema on Postgres. */
import { uniqueSchema } from '../../../../../test-support/services';
import { createPGlite } from '../../stores/pglite';
import { createPostgres } from '../../stores/postgres';
import { createPostgresJs } from '../../stores/postgresjs';
import type { SqlClient } from '../../stores/sql';

/** A database for one suite, and how to drop what the suite made. */
export interface TestDatabase {
  db: SqlClient;
  schema: string;
  drop(): Promise<void>;
}

/** An in-memory PGlite (one connection), schema `ballast`. */
export async function pgliteDatabase(): Promise<TestDatabase> {
  const db = await createPGlite();
  return { db, schema: 'ballast', drop: () => db.close() };
}

/** A pool of `max` connections on Postgres, with a schema no other suite uses (dropped at the end). */
export async function postgresDatabase(url: string, prefix: string, max = 8): Promise<TestDatabase> {
  const schema = uniqueSchema(prefix);
  const db = await createPostgres({ connectionString: url, max });
  return {
    db,
    schema,
    drop: async () => {
      await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.close();
    },
  };
}

/** The same on the postgres.js driver (`prepare: false`, as through a transaction-mode pooler). */
export async function postgresJsDatabase(url: string, prefix: string, max = 8): Promise<TestDatabase> {
  const schema = uniqueSchema(prefix);
  const db = await createPostgresJs(url, { max });
  return {
    db,
    schema,
    drop: async () => {
      await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.close();
    },
  };
}
