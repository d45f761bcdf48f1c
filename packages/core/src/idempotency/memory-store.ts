import {
  type ClaimOutcome,
  type ClaimRequest,
  type CompleteRequest,
  claimable,
  type ExtendRequest,
  type IdempotencyRecord,
  type IdempotencyStore,
  type ReleaseRequest,
  type VersionApplyRequest,
  type VersionStore,
} from './store';

/**
 * An in-memory idempotency store, for tests and single-process throwaway use.
 *
 * Claims are atomic because each runs synchronously within one tick. Records
 * live as long as the store object; nothing is shared between processes.
 *
 * @example
 * ```ts
 * import { idempotent } from '@ballast/core/idempotency';
 * import { memoryIdempotencyStore } from '@ballast/core/stores/memory';
 * const once = idempotent(async (id: string) => id.toUpperCase(), { store: memoryIdempotencyStore(), key: (id) => id });
 * ```
 */
export function memoryIdempotencyStore(): IdempotencyStore {
  const records = new Map<string, IdempotencyRecord>();

  return {
    async claim(req: ClaimRequest): Promise<ClaimOutcome> {
      const current = records.get(req.key);
      const fresh = (claims: number, createdAt: number): IdempotencyRecord => ({
        key: req.key,
        state: 'running',
        fingerprint: req.fingerprint,
        token: req.token,
        value: null,
        claims,
        leaseUntil: req.leaseUntil,
        expiresAt: req.expiresAt,
        createdAt,
        updatedAt: req.now,
      });
      if (current !== undefined) {
        const verdict = claimable(current, req);
        if (verdict === false) return { claimed: false, record: { ...current } };
        if (verdict === 'takeover') {
          const record = fresh(current.claims + 1, current.createdAt);
          records.set(req.key, record);
          return { claimed: true, takeover: true, record: { ...record } };
        }
      }
      const record = fresh(1, req.now);
      records.set(req.key, record);
      return { claimed: true, takeover: false, record: { ...record } };
    },

    async complete(req: CompleteRequest): Promise<boolean> {
      const current = records.get(req.key);
      if (current?.state !== 'running' || current.token !== req.token) return false;
      records.set(req.key, {
        ...current,
        state: req.state,
        value: req.value,
        expiresAt: req.expiresAt,
        updatedAt: req.now,
      });
      return true;
    },

    async release(req: ReleaseRequest): Promise<boolean> {
      const current = records.get(req.key);
      if (current?.state !== 'running' || current.token !== req.token) return false;
      records.delete(req.key);
      return true;
    },

    async extend(req: ExtendRequest): Promise<boolean> {
      const current = records.get(req.key);
      if (current?.state !== 'running' || current.token !== req.token) return false;
      records.set(req.key, {
        ...current,
        leaseUntil: req.leaseUntil,
        expiresAt: Math.max(current.expiresAt, req.expiresAt),
        updatedAt: req.now,
      });
      return true;
    },

    async get(key: string): Promise<IdempotencyRecord | undefined> {
      const current = records.get(key);
      return current && { ...current };
    },

    async purgeExpired(now = Date.now()): Promise<number> {
      let purged = 0;
      for (const [key, record] of records) {
        if (record.expiresAt <= now && (record.state !== 'running' || record.leaseUntil <= now)) {
          records.delete(key);
          purged++;
        }
      }
      return purged;
    },
  };
}

/**
 * An in-memory version store for `versionGuard()`, for tests and
 * single-process use. The `tx` argument of its methods is ignored.
 */
export function memoryVersionStore(): VersionStore {
  const versions = new Map<string, number>();
  const id = (scope: string, objectId: string) => `${scope}\u0000${objectId}`;

  return {
    async apply(req: VersionApplyRequest): Promise<boolean> {
      const key = id(req.scope, req.objectId);
      const current = versions.get(key);
      if (current !== undefined && (req.orEqual ? req.version < current : req.version <= current)) return false;
      versions.set(key, req.version);
      return true;
    },
    async get(scope: string, objectId: string): Promise<number | undefined> {
      return versions.get(id(scope, objectId));
    },
  };
}
