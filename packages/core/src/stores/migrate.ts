import { StoreError } from './errors';
import { allMigrations, type Migration, moduleDependencies } from './migrations/index';
import { quoteIdent, type SqlClient, sqlNames } from './sql';

/** Options for {@link migrate}. */
export interface MigrateOptions {
  /**
   * Schema that holds Ballast's tables; created when missing.
   * @default 'ballast'
   */
  schema?: string;
  /**
   * Only apply the migrations of these modules (e.g. `['inbox']`), and of the
   * modules they depend on (the inbox needs `idempotency`). An unknown name
   * rejects with a `StoreError` (`unknown_module`).
   * @default every module
   */
  modules?: readonly string[];
  /**
   * After migrating, lock the schema's tables down for hosted Postgres whose
   * API roles reach the database (Supabase's `anon` and `authenticated`):
   * every table gets row level security with no policy (the table's owner,
   * which is how Ballast connects, is not subject to it), and where those
   * roles exist every privilege on the schema's tables, sequences and
   * functions is revoked from them (and USAGE on the schema itself unless it
   * is `public`). Runs on every call, so tables created before are covered.
   * Ballast must then connect as the tables' owner (the role that ran
   * `migrate`) or a role with BYPASSRLS (Supabase's `postgres` and
   * `service_role`); an application role that is neither sees no rows and
   * cannot insert: give it a policy of your own, or pass `false`.
   * @default true
   */
  lockDown?: boolean;
}

/** The roles of an API that serves the database to browsers (Supabase's PostgREST). */
const API_ROLES = ['anon', 'authenticated'];

/** What {@link migrate} did. */
export interface MigrateResult {
  /** `module@version` of each migration applied by this call, in order. */
  applied: string[];
}

/**
 * Applies Ballast's versioned SQL migrations to a PGlite or Postgres database.
 *
 * Safe to run from many processes at once: the whole run holds a
 * transaction-scoped advisory lock, so one process applies and the others find
 * nothing left to do. Each migration runs at most once per schema.
 *
 * @example
 * ```ts
 * import { migrate } from '@ballast/core/stores/sql';
 * import { createPGlite } from '@ballast/core/stores/pglite';
 * const db = await createPGlite();
 * await migrate(db);
 * ```
 */
export async function migrate(db: SqlClient, options: MigrateOptions = {}): Promise<MigrateResult> {
  const names = sqlNames(options.schema);
  const all = allMigrations();
  const wanted = options.modules ? withDependencies(options.modules, new Set(all.map((m) => m.module))) : undefined;
  const pending = all.filter((m) => !wanted || wanted.has(m.module));
  const ledger = names.table('schema_migrations');
  const applied: string[] = [];

  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`ballast:migrate:${names.schema}`]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${names.quotedSchema}`);
    await tx.query(ledgerTable(ledger));
    const done = await tx.query<{ module: string; version: number }>(`SELECT module, version FROM ${ledger}`);
    const seen = new Set(done.rows.map((r) => `${r.module}@${r.version}`));
    for (const m of pending) {
      const id = `${m.module}@${m.version}`;
      if (seen.has(id)) continue;
      for (const statement of splitStatements(m.up(names))) await tx.query(statement);
      await tx.query(`INSERT INTO ${ledger} (module, version, name) VALUES ($1, $2, $3)`, [
        m.module,
        m.version,
        m.name,
      ]);
      applied.push(id);
    }
    if (options.lockDown !== false) await tx.query(lockDownScript(names.schema));
  });
  return { applied };
}

/** The ledger of applied migrations. */
function ledgerTable(ledger: string): string {
  return `CREATE TABLE IF NOT EXISTS ${ledger} (
  module text NOT NULL,
  version integer NOT NULL,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (module, version)
)`;
}

/** One migration as a plain SQL file for the Supabase CLI (`supabase/migrations/`). */
export interface MigrationFile {
  /** `module@version`. */
  id: string;
  module: string;
  version: number;
  /** The migration's description. */
  name: string;
  /**
   * The whole file: the schema and ledger (created when missing), the
   * migration's statements, its ledger row (so a later `migrate()` finds it
   * done) and the same lock-down `migrate()` applies.
   */
  sql: string;
}

/**
 * Ballast's migrations rendered as SQL files, from the same definitions
 * `migrate()` applies, for teams whose schema changes go through
 * `supabase/migrations/` (`supabase db push`). A database migrated by the
 * files ends with the same tables, indexes and constraints as one migrated by
 * `migrate()`, and `migrate()` afterwards has nothing left to do.
 */
export function migrationFiles(options: Omit<MigrateOptions, 'lockDown'> = {}): MigrationFile[] {
  const names = sqlNames(options.schema);
  const all = allMigrations();
  const wanted = options.modules ? withDependencies(options.modules, new Set(all.map((m) => m.module))) : undefined;
  const ledger = names.table('schema_migrations');
  const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;
  return all
    .filter((m) => !wanted || wanted.has(m.module))
    .map((m) => {
      const statements = splitStatements(m.up(names)).map((s) => `${s};`);
      const sql = [
        `-- Ballast ${m.module}@${m.version}: ${m.name}. Generated from @ballast/core's migrations; do not edit.`,
        `CREATE SCHEMA IF NOT EXISTS ${names.quotedSchema};`,
        `${ledgerTable(ledger)};`,
        ...statements,
        `INSERT INTO ${ledger} (module, version, name) VALUES (${literal(m.module)}, ${m.version}, ${literal(m.name)}) ON CONFLICT DO NOTHING;`,
        lockDownScript(names.schema),
        '',
      ].join('\n');
      return { id: `${m.module}@${m.version}`, module: m.module, version: m.version, name: m.name, sql };
    });
}

/**
 * Row level security on every table of the schema, and nothing granted to the
 * API roles that exist: one idempotent DO block, run by `migrate()` and
 * appended to every SQL file.
 */
function lockDownScript(schema: string): string {
  const s = quoteIdent(schema);
  const lit = `'${schema.replaceAll("'", "''")}'`;
  return `DO $ballast$
DECLARE t record; who text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = ${lit} AND NOT rowsecurity LOOP
    EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', ${lit}, t.tablename);
  END LOOP;
  SELECT string_agg(quote_ident(rolname), ', ') INTO who FROM pg_roles WHERE rolname IN (${API_ROLES.map((r) => `'${r}'`).join(', ')});
  IF who IS NOT NULL THEN
    EXECUTE 'REVOKE ALL ON ALL TABLES IN SCHEMA ${s.replaceAll("'", "''")} FROM ' || who;
    EXECUTE 'REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${s.replaceAll("'", "''")} FROM ' || who;
    EXECUTE 'REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ${s.replaceAll("'", "''")} FROM ' || who;
    EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA ${s.replaceAll("'", "''")} REVOKE ALL ON TABLES FROM ' || who;${
      schema === 'public'
        ? ''
        : `
    EXECUTE 'REVOKE ALL ON SCHEMA ${s.replaceAll("'", "''")} FROM ' || who;`
    }
  END IF;
END
$ballast$;`;
}

/**
 * The named modules plus, transitively, the modules their stores depend on.
 * @throws StoreError (`unknown_module`) for a name that is no module (a typo would otherwise migrate nothing).
 */
function withDependencies(modules: readonly string[], known: ReadonlySet<string>): Set<string> {
  if (!Array.isArray(modules))
    throw new StoreError('migrate', 'invalid_modules', 'modules must be an array of module names');
  for (const module of modules) {
    if (!known.has(module)) {
      throw new StoreError(
        'migrate',
        'unknown_module',
        `unknown module ${JSON.stringify(module)} (modules: ${[...known].join(', ')})`,
      );
    }
  }
  const wanted = new Set<string>();
  const add = (module: string): void => {
    if (wanted.has(module)) return;
    wanted.add(module);
    for (const dependency of moduleDependencies[module] ?? []) add(dependency);
  };
  for (const module of modules) add(module);
  return wanted;
}

/**
 * Splits a migration script on `;` at the end of a line. Migrations are written
 * for this: no function bodies with inner semicolons at line ends.
 */
function splitStatements(script: string): string[] {
  return script
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export type { Migration };
