/**
 * `@ballast/core/idempotency`: run a function once per key, however often it
 * is called, and apply per-object updates only in version order.
 *
 * Store drivers live with the other drivers: `memoryIdempotencyStore` and
 * `memoryVersionStore` in `@ballast/core/stores/memory`, `sqlIdempotencyStore`
 * and `sqlVersionStore` in `@ballast/core/stores/sql`.
 */

export type { IdempotencyErrorCode, IdempotencyErrorOptions, SerializedError } from './errors';
export {
  IdempotencyCachedError,
  IdempotencyConflictError,
  IdempotencyError,
  IdempotencyInProgressError,
  isIdempotencyCachedError,
  isIdempotencyConflictError,
  isIdempotencyError,
  isIdempotencyInProgressError,
} from './errors';
export type {
  IdempotencyContext,
  IdempotencyWaitOptions,
  IdempotentOptions,
  TransactionalIdempotencyContext,
  TransactionalIdempotentOptions,
} from './idempotent';
export { idempotent } from './idempotent';
export type {
  ClaimOutcome,
  ClaimRequest,
  CompleteRequest,
  ExtendRequest,
  IdempotencyRecord,
  IdempotencyState,
  IdempotencyStore,
  ReleaseRequest,
  TransactionalIdempotencyStore,
  VersionApplyRequest,
  VersionStore,
} from './store';
export { claimable, fingerprintsCompatible } from './store';
export type { VersionGuard, VersionGuardCallOptions, VersionGuardOptions } from './version-guard';
export { versionGuard } from './version-guard';
