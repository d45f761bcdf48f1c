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

/** The Postgres drivers the SQL suites run on. */
export type PostgresDriver = 'pg' | 'postgres.js';

/**
 * A pool of `max` connections on Postgres, through node-postgres or postgres.js, with a schema no
 * other suite uses (dropped at the end).
 */
export async function postgresDatabase(
  url: string,
  prefix: string,
  max = 8,
  driver: PostgresDriver = 'pg',
): Promise<TestDatabase> {
  const schema = uniqueSchema(prefix);
  const db =
    driver === 'pg' ? await createPostgres({ connectionString: url, max }) : await createPostgresJs(url, { max });
  return {
    db,
    schema,
    drop: async () => {
      await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.close();
    },
  };
}
