import type { SqlExecutor } from '../stores/sql';
import { IdempotencyError } from './errors';
import type { VersionStore } from './store';

/** Options of {@link versionGuard}. */
export interface VersionGuardOptions {
  /** Where the last applied version of each object lives: `memoryVersionStore()` or `sqlVersionStore(db)`. */
  store: VersionStore;
  /**
   * A namespace for object ids, so one store serves several kinds of objects
   * (e.g. `stripe:customer`); at most 200 characters.
   * @default 'default'
   */
  scope?: string;
  /**
   * Also apply an update whose version equals the last applied one (for
   * versions too coarse to tell two updates apart, such as timestamps in seconds).
   * @default false
   */
  applyEqual?: boolean;
  /**
   * The clock, in milliseconds since the epoch (for the stored `updated_at`).
   * @default () => Date.now()
   */
  now?: () => number;
}

/** Per-call options of a {@link VersionGuard}. */
export interface VersionGuardCallOptions {
  /** Run inside this SQL transaction (e.g. `context.tx` of a transactional `idempotent()`), so the new version commits with the handler's writes. */
  tx?: SqlExecutor;
}

/** Applies an update to an object only if it is newer than the last one applied. */
export interface VersionGuard {
  /**
   * Records `version` for `objectId` if it is newer than the last applied one
   * (or the first), atomically, and returns whether it did: `true` means
   * apply the update, `false` means a newer one was already applied, so skip it.
   */
  apply(objectId: string, version: number, options?: VersionGuardCallOptions): Promise<boolean>;
  /** The last applied version of `objectId`, or `undefined` when none was applied. */
  current(objectId: string, options?: VersionGuardCallOptions): Promise<number | undefined>;
}

const MAX_SCOPE = 200;
const MAX_OBJECT_ID = 1024;

function invalid(code: 'invalid_options' | 'invalid_key' | 'invalid_version', message: string) {
  return new IdempotencyError('versionGuard', code, message);
}

function checkObjectId(objectId: unknown): string {
  if (typeof objectId !== 'string' || objectId.length === 0 || objectId.length > MAX_OBJECT_ID) {
    throw invalid('invalid_key', `objectId must be a non-empty string of at most ${MAX_OBJECT_ID} characters`);
  }
  return objectId;
}

/**
 * A per-object version guard for out-of-order delivery: an update is applied
 * only if its version (a sequence number, an event timestamp) is newer than
 * the last one applied for the same object. The check and the write are one
 * atomic compare-and-set in the store; on SQL it can share the transaction
 * of the handler's writes.
 *
 * @example
 * ```ts
 * import { versionGuard } from '@ballast/core/idempotency';
 * import { memoryVersionStore } from '@ballast/core/stores/memory';
 *
 * const customers = versionGuard({ store: memoryVersionStore(), scope: 'stripe:customer' });
 * if (await customers.apply('cus_123', 1_700_000_100)) {
 *   // write the customer: this event is the newest seen for cus_123
 * }
 * ```
 */
export function versionGuard(options: VersionGuardOptions): VersionGuard {
  if (typeof options !== 'object' || options === null) throw invalid('invalid_options', 'options must be an object');
  const { store } = options;
  if (typeof store?.apply !== 'function' || typeof store.get !== 'function') {
    throw invalid('invalid_options', 'store must be a VersionStore (apply() and get())');
  }
  const scope = options.scope ?? 'default';
  if (typeof scope !== 'string' || scope.length === 0 || scope.length > MAX_SCOPE) {
    throw invalid('invalid_options', `scope must be a non-empty string of at most ${MAX_SCOPE} characters`);
  }
  const orEqual = options.applyEqual ?? false;
  if (typeof orEqual !== 'boolean') throw invalid('invalid_options', 'applyEqual must be a boolean');
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw invalid('invalid_options', 'now must be a function');
  }
  const now = options.now ?? (() => Date.now());

  return {
    // async, so that bad input rejects the returned promise like every other failure
    async apply(objectId, version, call = {}) {
      const id = checkObjectId(objectId);
      if (typeof version !== 'number' || !Number.isSafeInteger(version)) {
        throw invalid('invalid_version', `version must be a safe integer, got ${String(version)}`);
      }
      return store.apply({ scope, objectId: id, version, orEqual, now: now() }, call.tx);
    },
    async current(objectId, call = {}) {
      return store.get(scope, checkObjectId(objectId), call.tx);
    },
  };
}
