/**
 * `@ballast/core/sync`: raw sync tables that mirror a provider, and mappers
 * that project them into the app's tables.
 *
 * Left out on purpose: the canonical-JSON and hashing internals, and the SQL
 * of the tables (created by `migrate` from `@ballast/core/stores/sql`).
 */

export type { SyncErrorCode, SyncErrorContext } from './errors';
export { isSyncError, SyncError } from './errors';
export type {
  Mapper,
  MapperOptions,
  MapperRunOptions,
  MapperRunResult,
  QuarantineEntry,
  RawRowRef,
} from './mapper';
export { mapper } from './mapper';
export type { IdOf, RunOptions, SyncCounts, SyncProgress, SyncTableOptions } from './options';
export type {
  CursorPagesOptions,
  FetchByIds,
  OffsetPagesOptions,
  PageSource,
  SourceStart,
  StartingAfterPagesOptions,
  SyncPage,
  SyncSource,
} from './pages';
export { cursorPages, offsetPages, startingAfterPages } from './pages';
export type { SyncRun, SyncRunResult, SyncRunStatus } from './runs';
export type { SyncRow, SyncTable } from './sync-table';
export { syncTable } from './sync-table';
