/**
 * Ballast through a real transaction-mode pooler (PgBouncer, pool_mode =
 * transaction), the way Supabase's pooler on port 6543 is used: what breaks
 * for a client that keeps session state or named prepared statements, and
 * that Ballast's drivers and migrate() do not depend on either. The store
 * contract suites run through the same pooler in their own files.
 *
 * PgBouncer hands a released server connection to the next client that needs
 * one, most recently used first. So "client B opens a transaction" right after
 * client A's statement deterministically takes A's server connection, and A's
 * next statement runs on another one.
 */
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPgBouncer, POOL_SIZE } from '../../../../test-support/pgbouncer';
import { uniqueSchema } from '../../../../test-support/services';
import { migrate } from './migrate';
import { createPostgres } from './postgres';
import { createPostgresJs } from './postgresjs';

/** Holds a server connection in an open transaction until `release()`. */
async function holdServerConnection(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return {
    pid: rows[0]?.pid,
    release: async () => {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

describeWithPgBouncer('what a transaction-mode pooler keeps from one statement to the next', (url) => {
  it('the pooler really multiplexes: the same client runs on another server connection once its own is taken', async () => {
    const a = new pg.Client({ connectionString: url });
    await a.connect();
    try {
      const first = (await a.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      const held = await holdServerConnection(url);
      const second = (await a.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      await held.release();
      expect(held.pid).toBe(first);
      expect(second).not.toBe(first);
    } finally {
      await a.end();
    }
  });

  it('pg: a named prepared statement is gone once the client lands on another server connection (26000)', async () => {
    const a = new pg.Client({ connectionString: url });
    await a.connect();
    try {
      const named = { name: 'ballast_probe', text: 'SELECT $1::int AS n' };
      expect((await a.query({ ...named, values: [1] })).rows).toEqual([{ n: 1 }]);
      const held = await holdServerConnection(url);
      const error = await a.query({ ...named, values: [2] }).catch((e: unknown) => e);
      // unnamed statements (what Ballast's pg driver sends) are parsed with every execution
      const unnamed = await a.query('SELECT $1::int AS n', [3]);
      await held.release();
      expect(error).toMatchObject({ code: '26000', message: 'prepared statement "ballast_probe" does not exist' });
      expect(unnamed.rows).toEqual([{ n: 3 }]);
    } finally {
      await a.end();
    }
  });

  it('postgres.js with prepare: true (its default) fails inside a transaction on another server connection; prepare: false works', async () => {
    const outcomes: Record<string, unknown> = {};
    for (const prepare of [true, false]) {
      const sql = postgres(url, { max: 1, prepare, onnotice: () => {} });
      try {
        await sql`SELECT ${1}::int AS n`; // prepared (or not) on server connection X
        const held = await holdServerConnection(url); // X is now busy
        outcomes[String(prepare)] = await sql
          .begin((tx) => tx`SELECT ${2}::int AS n`) // BEGIN lands on Y, where the statement does not exist
          .then((rows) => [...rows])
          .catch((e: unknown) => e);
        await held.release();
      } finally {
        await sql.end({ timeout: 1 });
      }
    }
    // postgres.js re-prepares after a 26000 outside a transaction, but inside one the
    // error has already aborted the transaction: Ballast's claims and batches would fail
    expect(outcomes.true).toMatchObject({ code: '26000', routine: 'FetchPreparedStatement' });
    expect(outcomes.false).toEqual([{ n: 2 }]);
  });

  it('createPostgresJs sends no named statements: the same sequence through a Ballast SqlClient works', async () => {
    const db = await createPostgresJs(url, { max: 1 });
    try {
      expect((await db.query('SELECT $1::int AS n', [1])).rows).toEqual([{ n: 1 }]);
      const held = await holdServerConnection(url);
      const inTx = await db.transaction((tx) => tx.query('SELECT $1::int AS n', [2]));
      await held.release();
      expect(inTx.rows).toEqual([{ n: 2 }]);
    } finally {
      await db.close();
    }
  });

  it('session state leaks between clients: a SET made by one client is seen by the next client on its server connection', async () => {
    const a = new pg.Client({ connectionString: url });
    const b = new pg.Client({ connectionString: url });
    await a.connect();
    await b.connect();
    try {
      await a.query('SET search_path = ballast_pooler_leak');
      const seen = (await b.query<{ search_path: string }>('SHOW search_path')).rows[0]?.search_path;
      expect(seen).toBe('ballast_pooler_leak');
    } finally {
      // DISCARD ALL resets the server connection that carries the setting, for later suites
      await b.query('DISCARD ALL').catch(() => {});
      await a.end();
      await b.end();
    }
  });

  it('a session advisory lock cannot be released through the pooler; migrate() takes a transaction-scoped one', async () => {
    const a = new pg.Client({ connectionString: url });
    await a.connect();
    try {
      await a.query('SELECT pg_advisory_lock(914100)');
      const held = await holdServerConnection(url);
      const unlocked = (await a.query<{ ok: boolean }>('SELECT pg_advisory_unlock(914100) AS ok')).rows[0]?.ok;
      await held.release();
      // the lock stays with the first server connection (and every later client that gets it)
      expect(unlocked).toBe(false);
      const holders = await a.query(
        `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 914100 AND granted`,
      );
      expect(holders.rowCount).toBe(1);
    } finally {
      await a.query('SELECT pg_advisory_unlock_all()').catch(() => {});
      await a.end();
    }
  });
});

describeWithPgBouncer('migrate() through a transaction-mode pooler', (url, direct) => {
  const schema = uniqueSchema('poolmig');
  const reference = uniqueSchema('poolref');
  let admin: Awaited<ReturnType<typeof createPostgres>>;
  beforeAll(async () => {
    admin = await createPostgres({ connectionString: direct, max: 1 });
  });
  afterAll(async () => {
    await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${reference} CASCADE`);
    await admin.close();
  });

  it(`runs from ${POOL_SIZE + 2} cold starts at once, on both drivers, and leaves one complete schema`, async () => {
    const clients = await Promise.all(
      Array.from({ length: POOL_SIZE + 2 }, (_, i) =>
        i % 2 === 0 ? createPostgresJs(url, { max: 1 }) : createPostgres({ connectionString: url, max: 1 }),
      ),
    );
    try {
      await Promise.all(clients.map((db) => migrate(db, { schema })));
    } finally {
      await Promise.all(clients.map((db) => db.close()));
    }
    // the same catalog as a migrate() over the direct connection, which then finds nothing to apply
    await migrate(admin, { schema: reference });
    await migrate(admin, { schema });
    const catalog = async (name: string) =>
      (
        await admin.query<{ c: string }>(
          `SELECT c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':' || c.relrowsecurity AS c
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1`,
          [name],
        )
      ).rows.map((r) => r.c);
    const pooled = await catalog(schema);
    expect(pooled.length).toBeGreaterThan(40);
    expect(pooled).toEqual(await catalog(reference));
    expect(pooled.every((c) => c.endsWith(':true'))).toBe(true); // row level security on every table
  });
});
