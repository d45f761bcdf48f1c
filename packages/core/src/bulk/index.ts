/**
 * `@ballast/core/bulk`: bulk jobs that create or update thousands of records
 * at a provider, keyed by a unique field: planned against the daily budget,
 * paced by the client's rate limiter, checkpointed so that a crash never
 * duplicates a record, with progress events and per-record failures.
 *
 * Left out on purpose: the checkpoint stores live with the other stores,
 * `sqlBulkCheckpoints` in `@ballast/core/stores/sql` and
 * `memoryBulkCheckpoints` in `@ballast/core/stores/memory`.
 */

export type {
  BulkItemFailure,
  BulkPlan,
  BulkProgress,
  BulkUpsertOptions,
  BulkUpsertResult,
} from './bulk-upsert';
export { bulkUpsert } from './bulk-upsert';
export type {
  BulkCheckpointStore,
  BulkItemState,
  BulkItemStatus,
  BulkJobStatus,
  BulkJobSummary,
} from './checkpoint';
export type { BulkErrorCode, BulkErrorContext } from './errors';
export { BulkError, isBulkError } from './errors';
export type { BulkBudget, BulkCosts, BulkIndexEntry, BulkRecord, BulkTarget } from './target';
