import type { SqlExecutor } from '../stores/sql';

/**
 * The driver contracts behind `idempotent()` and `versionGuard()`.
 *
 * Stores are deliberately dumb: they never read a clock. Every time (`now`,
 * lease and retention deadlines) arrives as milliseconds since the epoch from
 * the caller, so one injected clock drives memory and SQL stores alike.
 */

/** Where a key stands: held by a running call, or finished with a stored outcome. */
export type IdempotencyState = 'running' | 'succeeded' | 'failed';

/** One idempotency key as a store keeps it. Times are milliseconds since the epoch. */
export interface IdempotencyRecord {
  /** The idempotency key. */
  key: string;
  /** `running` while a call holds the key, then `succeeded`, or `failed` (with `cacheErrors`, or a result JSON could not store). */
  state: IdempotencyState;
  /** The request fingerprint given by the claim that created or took over the record, if any. */
  fingerprint: string | null;
  /** The claim token of the current holder (or of the holder that completed it): the fencing token. */
  token: string;
  /** The stored outcome as JSON text (`succeeded`: the result; `failed`: the error); `null` while running. */
  value: string | null;
  /** How many claims the record has seen since it was created: more than 1 means leases expired and were taken over. */
  claims: number;
  /** Until when the holder's lease runs; after it, a new claim takes the key over. Meaningful while `running`. */
  leaseUntil: number;
  /** After this time the record may be purged, and a new claim starts afresh. */
  expiresAt: number;
  /** When the record was created. */
  createdAt: number;
  /** When the record last changed. */
  updatedAt: number;
}

/**
 * Whether a claim with fingerprint `b` may share a key held with fingerprint
 * `a`: equal, or either side not fingerprinted. Drivers use it for takeovers,
 * `idempotent()` to tell a replay from a conflict.
 */
export function fingerprintsCompatible(a: string | null, b: string | null): boolean {
  return a === null || b === null || a === b;
}

/**
 * Whether a claim may replace an existing record, by the rules every driver
 * follows: `fresh` when the record is dead (its expiry and lease both passed),
 * `takeover` when it is running with an expired lease and a compatible
 * fingerprint, otherwise `false` (the record stands).
 */
export function claimable(
  record: Pick<IdempotencyRecord, 'state' | 'fingerprint' | 'leaseUntil' | 'expiresAt'>,
  claim: Pick<ClaimRequest, 'fingerprint' | 'now'>,
): 'fresh' | 'takeover' | false {
  if (record.expiresAt <= claim.now && record.leaseUntil <= claim.now) return 'fresh';
  if (
    record.state === 'running' &&
    record.leaseUntil <= claim.now &&
    fingerprintsCompatible(record.fingerprint, claim.fingerprint)
  ) {
    return 'takeover';
  }
  return false;
}

/** Arguments of {@link IdempotencyStore.claim}. */
export interface ClaimRequest {
  /** The key to claim. */
  key: string;
  /** The request fingerprint, or `null` when the caller does not fingerprint. */
  fingerprint: string | null;
  /** A fresh, unique token for this claim (the fencing token). */
  token: string;
  /** The caller's current time. */
  now: number;
  /** Until when the lease runs if the claim succeeds. */
  leaseUntil: number;
  /** When the record may be purged if nobody completes it (at least `leaseUntil`). */
  expiresAt: number;
}

/**
 * What a claim found.
 *
 * `claimed: true`: the caller now holds the key (a new record, a record whose
 * retention had run out, or a `takeover` of a running record whose lease had
 * expired). `claimed: false`: someone else holds the key, or it is finished;
 * `record` says which.
 */
export type ClaimOutcome =
  | { claimed: true; takeover: boolean; record: IdempotencyRecord }
  | { claimed: false; record: IdempotencyRecord };

/** Arguments of {@link IdempotencyStore.complete}. */
export interface CompleteRequest {
  /** The key to complete. */
  key: string;
  /** The token of the claim being completed: nothing happens unless it still holds the key. */
  token: string;
  /** `succeeded` with the result, or `failed` with a serialized error. */
  state: 'succeeded' | 'failed';
  /** The outcome as JSON text. */
  value: string;
  /** The caller's current time. */
  now: number;
  /** When the finished record may be purged. */
  expiresAt: number;
}

/** Arguments of {@link IdempotencyStore.release}. */
export interface ReleaseRequest {
  /** The key to release. */
  key: string;
  /** The token of the claim being released: nothing happens unless it still holds the key. */
  token: string;
}

/** Arguments of {@link IdempotencyStore.extend}. */
export interface ExtendRequest {
  /** The key whose lease to extend. */
  key: string;
  /** The token of the claim: nothing happens unless it still holds the key. */
  token: string;
  /** The caller's current time. */
  now: number;
  /** The new end of the lease. */
  leaseUntil: number;
  /** The new purge time if the record is never completed (at least `leaseUntil`); an earlier one is kept if later. */
  expiresAt: number;
}

/**
 * The idempotency store driver contract: atomic claims with a lease and a
 * fencing token, completion with a stored result, release, read and purge.
 *
 * Drivers ship for memory (`@ballast/core/stores/memory`) and SQL, PGlite and
 * Postgres alike (`@ballast/core/stores/sql`). A driver for another backend
 * implements these six methods and passes the same contract tests.
 */
export interface IdempotencyStore {
  /**
   * Claims `key` atomically: creates the record as `running`, or takes it over
   * when the existing record is `running` with an expired lease (and a
   * compatible fingerprint: equal, or either side `null`), or starts afresh
   * when the existing record's retention has run out. Otherwise returns the
   * existing record untouched. Two concurrent claims never both succeed.
   */
  claim(request: ClaimRequest): Promise<ClaimOutcome>;
  /**
   * Stores the outcome of a running claim. Returns `false`, changing nothing,
   * when `token` no longer holds the key (the lease was taken over).
   */
  complete(request: CompleteRequest): Promise<boolean>;
  /**
   * Deletes a running record held by `token`, so a retry can claim the key.
   * Returns `false`, changing nothing, when `token` no longer holds the key.
   */
  release(request: ReleaseRequest): Promise<boolean>;
  /**
   * Moves the lease of a running record held by `token` to `leaseUntil`, for
   * a holder that needs longer than its lease. Returns `false`, changing
   * nothing, when `token` no longer holds the key.
   */
  extend(request: ExtendRequest): Promise<boolean>;
  /** Reads one record, whatever its state; `undefined` when there is none. */
  get(key: string): Promise<IdempotencyRecord | undefined>;
  /**
   * Deletes records whose `expiresAt` has passed (running records only once
   * their lease has expired too) and returns how many it deleted.
   * @param now - the current time. @default Date.now()
   */
  purgeExpired(now?: number): Promise<number>;
}

/**
 * An idempotency store that can run the wrapped function and the completion
 * in one database transaction (the SQL store). Used by `idempotent()` with
 * `transactional: true`.
 */
export interface TransactionalIdempotencyStore extends IdempotencyStore {
  /**
   * Runs `fn` in one transaction: `tx` runs the caller's statements, `store`
   * is this store bound to the same transaction. Committed when `fn`
   * resolves, rolled back when it throws.
   */
  transaction<T>(fn: (tx: SqlExecutor, store: IdempotencyStore) => Promise<T>): Promise<T>;
}

/** Arguments of {@link VersionStore.apply}. */
export interface VersionApplyRequest {
  /** A namespace for object ids, e.g. `stripe:customer`. */
  scope: string;
  /** The object's id within the scope. */
  objectId: string;
  /** The candidate version (a safe integer: a sequence number, a timestamp). */
  version: number;
  /** Also apply when `version` equals the stored one. */
  orEqual: boolean;
  /** The caller's current time. */
  now: number;
}

/**
 * The version guard driver contract: one compare-and-set per object.
 *
 * Drivers ship for memory (`@ballast/core/stores/memory`) and SQL
 * (`@ballast/core/stores/sql`).
 */
export interface VersionStore {
  /**
   * Atomically records `version` for the object when it is newer than the
   * stored one (or there is none) and returns whether it did. With `tx` (SQL
   * stores) it runs inside that transaction, so it commits or rolls back with
   * the handler's own writes; stores without transactions ignore `tx`.
   */
  apply(request: VersionApplyRequest, tx?: SqlExecutor): Promise<boolean>;
  /** The last applied version of the object, or `undefined` when none was applied. */
  get(scope: string, objectId: string, tx?: SqlExecutor): Promise<number | undefined>;
}
