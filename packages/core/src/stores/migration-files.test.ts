import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedFiles, MIGRATIONS_DIR } from '../../../../scripts/supabase-migrations';
import { describeWithPostgres } from '../../../../test-support/services';
import { migrate, migrationFiles } from './migrate';
import { moduleDependencies } from './migrations/index';
import { createPostgres } from './postgres';
import type { SqlClient } from './sql';

describe('Supabase migration files', () => {
  it('are in examples/supabase/supabase/migrations, one per migration, identical to the definitions', () => {
    const existing = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql'));
    const expected = expectedFiles(existing);
    expect(existing.sort()).toEqual(expected.map((e) => e.file).sort());
    for (const { file, sql } of expected) expect(readFileSync(join(MIGRATIONS_DIR, file), 'utf8')).toBe(sql);
    // applied in file order: each module's versions in order, after the modules it depends on
    // (a later migration of an earlier module, e.g. inbox@3 after vault@1, is fine)
    const byFile = [...expected.map((e) => e.file)].sort();
    const position = (module: string, version: number) =>
      byFile.findIndex((f) => f.endsWith(`_ballast_${module}_v${version}.sql`));
    for (const m of migrationFiles()) {
      if (m.version > 1) expect(position(m.module, m.version)).toBeGreaterThan(position(m.module, m.version - 1));
      for (const dependency of moduleDependencies[m.module] ?? []) {
        expect(position(m.module, m.version)).toBeGreaterThan(position(dependency, 1));
      }
    }
  });

  it('give a new migration a timestamp after every existing file, and keep old ones', () => {
    const [first, ...rest] = expectedFiles([]).map((e) => e.file);
    const later = expectedFiles([first ?? ''], new Date('2000-01-01T00:00:00Z')).map((e) => e.file);
    expect(later[0]).toBe(first);
    expect(later.slice(1).every((f) => f > (first ?? ''))).toBe(true);
    expect(rest).toHaveLength(migrationFiles().length - 1);
  });
});

/** The catalog of one schema, in a form two databases can be compared by. */
async function catalog(db: SqlClient, schema: string): Promise<unknown> {
  const q = async (sql: string) => (await db.query(sql, [schema])).rows;
  return {
    columns: await q(`SELECT table_name, column_name, data_type, is_nullable, column_default
                        FROM information_schema.columns WHERE table_schema = $1 ORDER BY 1, 2`),
    indexes: await q(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1, 2`),
    constraints: await q(`SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(c.oid) AS def
                            FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                           WHERE n.nspname = $1 ORDER BY 1, 2`),
    rls: await q(`SELECT tablename, rowsecurity FROM pg_tables WHERE schemaname = $1 ORDER BY 1`),
    ledger: (await db.query(`SELECT module, version, name FROM ${schema}.schema_migrations ORDER BY 1, 2`)).rows,
  };
}

describeWithPostgres('Supabase migration files applied with psql', (url) => {
  const suffix = randomBytes(4).toString('hex');
  const fromFiles = `ballast_files_${suffix}`;
  const fromMigrate = `ballast_migrate_${suffix}`;
  const urlOf = (database: string) => {
    const u = new URL(url);
    u.pathname = `/${database}`;
    return u.toString();
  };
  let admin: SqlClient;
  let a: SqlClient;
  let b: SqlClient;

  beforeAll(async () => {
    admin = await createPostgres({ connectionString: url, max: 1 });
    await admin.query(`CREATE DATABASE ${fromFiles}`);
    await admin.query(`CREATE DATABASE ${fromMigrate}`);
    a = await createPostgres({ connectionString: urlOf(fromFiles), max: 2 });
    b = await createPostgres({ connectionString: urlOf(fromMigrate), max: 2 });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${fromFiles}`);
    await admin.query(`DROP DATABASE IF EXISTS ${fromMigrate}`);
    await admin.close();
  });

  it('give the same tables, indexes, constraints and RLS as migrate(), which then has nothing to do', async () => {
    const files = readdirSync(MIGRATIONS_DIR)
      .filter((f) => f.endsWith('.sql'))
      .sort();
    for (const file of files) {
      // each file in one transaction, as the Supabase CLI applies it
      execFileSync(
        'psql',
        [
          '-X',
          '-q',
          '-v',
          'ON_ERROR_STOP=1',
          '--single-transaction',
          '-d',
          urlOf(fromFiles),
          '-f',
          join(MIGRATIONS_DIR, file),
        ],
        {
          stdio: 'pipe',
        },
      );
    }
    await migrate(b);
    expect(await catalog(a, 'ballast')).toEqual(await catalog(b, 'ballast'));
    expect(await migrate(a)).toEqual({ applied: [] });
  });
});
