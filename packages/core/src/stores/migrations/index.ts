import type { SqlNames } from '../sql';
import { bulkMigrations } from './bulk';
import { cacheMigrations } from './cache';
import { geocodeMigrations } from './geocode';
import { idempotencyMigrations } from './idempotency';
import { inboxMigrations } from './inbox';
import { syncMigrations } from './sync';
import { vaultMigrations } from './vault';

/**
 * One versioned migration of one module. Versions start at 1 and only grow;
 * a shipped migration is never edited, a change is a new version.
 */
export interface Migration {
  /** The module that owns the tables, e.g. `inbox`. */
  module: string;
  /** 1, 2, 3, ... within the module. */
  version: number;
  /** A short description, kept in the ledger. */
  name: string;
  /** The SQL, given the schema's names. Statements end with `;` at a line end. */
  up(names: SqlNames): string;
}

/**
 * Modules whose stores also use another module's tables: the inbox runs each
 * handler through `idempotent()`, so migrating `inbox` migrates `idempotency`.
 */
export const moduleDependencies: Readonly<Record<string, readonly string[]>> = {
  inbox: ['idempotency'],
};

/** Every module's migrations, in the order they are applied. */
export function allMigrations(): Migration[] {
  return [
    ...idempotencyMigrations,
    ...inboxMigrations,
    ...cacheMigrations,
    ...syncMigrations,
    ...vaultMigrations,
    ...bulkMigrations,
    ...geocodeMigrations,
  ];
}
