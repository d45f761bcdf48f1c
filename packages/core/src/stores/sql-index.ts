/**
 * `@ballast/core/stores/sql`: the SQL interface shared by the PGlite and
 * Postgres drivers, and the migrations that create Ballast's tables.
 */

export type { SqlBulkCheckpointsOptions } from '../bulk/sql-checkpoint';
export { sqlBulkCheckpoints } from '../bulk/sql-checkpoint';
export type { SqlIdempotencyStoreOptions } from '../idempotency/sql-store';
export { sqlIdempotencyStore, sqlVersionStore } from '../idempotency/sql-store';
export type { SqlInboxOptions } from '../inbox/sql';
export { sqlInbox } from '../inbox/sql';
export type { SqlCacheOptions } from '../resilience/cache-sql';
export { sqlCache } from '../resilience/cache-sql';
export type { SqlVaultStoreOptions } from '../vault/sql-store';
export { sqlVaultStore } from '../vault/sql-store';
export type { StoreErrorCode } from './errors';
export { isStoreError, StoreError } from './errors';
export type { MigrateOptions, MigrateResult, Migration, MigrationFile } from './migrate';
export { migrate, migrationFiles } from './migrate';
export type { SqlClient, SqlExecutor, SqlNames, SqlResult } from './sql';
export { quoteIdent, sqlNames } from './sql';
