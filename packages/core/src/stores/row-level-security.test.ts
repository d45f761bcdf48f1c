import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPostgres, describeWithSupabaseVault, uniqueSchema } from '../../../../test-support/services';
import { sqlInbox } from '../inbox/sql';
import { migrate } from './migrate';
import { createPostgres } from './postgres';
import type { SqlClient } from './sql';

/**
 * Supabase's API roles, created the way a Supabase project has them: `anon`
 * and `authenticated` log in through PostgREST and are subject to RLS,
 * `service_role` bypasses it. Roles are cluster-wide; they are created once
 * and left in place (other suites never use them).
 */
async function supabaseRoles(db: SqlClient): Promise<void> {
  await db.exec(`
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN NOINHERIT; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN NOINHERIT; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS; END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$`);
}

/** Runs `sql` as `role` and returns the SQLSTATE it failed with, or the rows. */
async function asRole(db: SqlClient, role: string, sql: string): Promise<{ code?: string; rows?: unknown[] }> {
  try {
    const rows = await db.transaction(async (tx) => {
      await tx.query(`SET LOCAL ROLE ${role}`);
      return (await tx.query(sql)).rows;
    });
    return { rows };
  } catch (error) {
    return { code: (error as { code?: string }).code ?? 'unknown' };
  }
}

describeWithPostgres('Ballast tables on a Supabase-like database', (url) => {
  let db: SqlClient;
  const schema = uniqueSchema('rls');
  let tables: string[];

  beforeAll(async () => {
    db = await createPostgres({ connectionString: url, max: 2 });
    await supabaseRoles(db);
    // the worst case: the schema carries the grants Supabase gives `public` on projects created
    // before 2026 (usage, and every privilege on every table created in it, for all three roles)
    await db.exec(`
CREATE SCHEMA ${schema};
GRANT USAGE ON SCHEMA ${schema} TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;`);
    await migrate(db, { schema });
    await sqlInbox(db, { schema }).ingest('stripe', { id: 'evt_1', payload: { type: 'invoice.paid' } });
    await db.query(
      `INSERT INTO ${schema}.geocode_cache (key, place_id, lat, lng, located_at, checked_at) VALUES ('k1', 'ChIJ_1', 1.5, 2.5, 1, 1)`,
    );
    const res = await db.query<{ tablename: string }>(
      'SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1',
      [schema],
    );
    tables = res.rows.map((r) => r.tablename);
  });
  afterAll(async () => {
    await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });

  it('creates every table with row level security on and no policy', async () => {
    // inbox events, idempotency records, sync rows, cache entries, vault secrets and keys, geocode cache, the ledger
    expect(tables).toEqual(expect.arrayContaining(['inbox_events', 'schema_migrations', 'geocode_cache']));
    expect(tables.length).toBeGreaterThanOrEqual(8);
    const rls = await db.query<{ relname: string; relrowsecurity: boolean }>(
      `SELECT c.relname, c.relrowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1`,
      [schema],
    );
    expect(rls.rows.filter((r) => !r.relrowsecurity).map((r) => r.relname)).toEqual([]);
    const policies = await db.query('SELECT 1 FROM pg_policies WHERE schemaname = $1', [schema]);
    expect(policies.rowCount).toBe(0);
  });

  it('lets neither anon nor authenticated read or write any Ballast table', async () => {
    for (const role of ['anon', 'authenticated']) {
      for (const table of tables) {
        const read = await asRole(db, role, `SELECT * FROM ${schema}.${table} LIMIT 1`);
        expect({ role, table, code: read.code }).toEqual({ role, table, code: '42501' });
      }
      const write = await asRole(db, role, `DELETE FROM ${schema}.inbox_events`);
      expect(write.code).toBe('42501');
    }
  });

  it('keeps rows hidden from anon even if a grant slips in later (RLS, no policy)', async () => {
    await db.exec(`GRANT USAGE ON SCHEMA ${schema} TO anon; GRANT SELECT ON ${schema}.inbox_events TO anon`);
    try {
      expect(await asRole(db, 'anon', `SELECT id FROM ${schema}.inbox_events`)).toEqual({ rows: [] });
    } finally {
      await db.exec(`REVOKE ALL ON ${schema}.inbox_events FROM anon; REVOKE USAGE ON SCHEMA ${schema} FROM anon`);
    }
  });

  it('lets the service role read them', async () => {
    const read = await asRole(db, 'service_role', `SELECT event_id FROM ${schema}.inbox_events`);
    expect(read).toEqual({ rows: [{ event_id: 'evt_1' }] });
    const geocode = await asRole(db, 'service_role', `SELECT place_id, lat FROM ${schema}.geocode_cache`);
    expect(geocode).toEqual({ rows: [{ place_id: 'ChIJ_1', lat: 1.5 }] });
  });

  it('hides cached geocodes (coordinates and place ids) from anon and authenticated', async () => {
    for (const role of ['anon', 'authenticated']) {
      expect((await asRole(db, role, `SELECT lat, lng FROM ${schema}.geocode_cache`)).code).toBe('42501');
      expect((await asRole(db, role, `UPDATE ${schema}.geocode_cache SET lat = 0, lng = 0`)).code).toBe('42501');
    }
  });

  it('locks down tables created before, on the next migrate()', async () => {
    await db.exec(`ALTER TABLE ${schema}.inbox_events DISABLE ROW LEVEL SECURITY;
GRANT SELECT ON ${schema}.inbox_events TO anon`);
    await migrate(db, { schema });
    const rls = await db.query<{ relrowsecurity: boolean }>(
      `SELECT relrowsecurity FROM pg_class WHERE oid = '${schema}.inbox_events'::regclass`,
    );
    expect(rls.rows[0]?.relrowsecurity).toBe(true);
    expect((await asRole(db, 'anon', `SELECT 1 FROM ${schema}.inbox_events`)).code).toBe('42501');
  });
});

describeWithSupabaseVault('Supabase Vault grants', (url) => {
  let db: SqlClient;
  beforeAll(async () => {
    db = await createPostgres({ connectionString: url, max: 2 });
    await supabaseRoles(db);
  });
  afterAll(() => db.close());

  it('gives anon and authenticated nothing on vault.secrets or vault.decrypted_secrets', async () => {
    for (const role of ['anon', 'authenticated']) {
      for (const relation of ['vault.secrets', 'vault.decrypted_secrets']) {
        const read = await asRole(db, role, `SELECT * FROM ${relation} LIMIT 1`);
        expect({ role, relation, code: read.code }).toEqual({ role, relation, code: '42501' });
      }
      const create = await asRole(db, role, `SELECT vault.create_secret('x', 'anon-probe')`);
      expect(create.code).toBe('42501');
    }
  });
});
