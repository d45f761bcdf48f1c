import { StoreError } from './errors';
import { allMigrations, type Migration, moduleDependencies } from './migrations/index';
import { type SqlClient, sqlNames } from './sql';

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
}

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
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${ledger} (
         module text NOT NULL,
         version integer NOT NULL,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (module, version)
       )`,
    );
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
  });
  return { applied };
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
