/**
 * Tenant data keys: created, wrapped and unwrapped under the master keyring,
 * and cached unwrapped per vault instance.
 * @internal
 */
import { type AeadKey, KEY_BYTES, NONCE_BYTES, type VaultCrypto } from './crypto';
import { associatedData, type Binding, encodeHeader, joinEnvelope, parseEnvelope } from './envelope';
import { VaultError } from './errors';
import { type Keyring, keyMaterial } from './keyring';
import type { StoredDataKey, VaultStore } from './store';

/** A tenant's newest data key, ready to encrypt with. */
export interface CurrentKey {
  generation: number;
  key: AeadKey;
  /** The envelope header naming this key (`dk<generation>`), built once. */
  header: Uint8Array;
  /** When the store was last asked for the newest generation (ms since epoch). */
  checkedAt: number;
}

/** What {@link dataKeys} needs. */
export interface DataKeysOptions {
  crypto: VaultCrypto;
  keyring: Keyring;
  store: VaultStore;
  /** How long a current key is trusted before the store is asked again. */
  ttlMs: number;
  /** Tenants kept in the cache; the least recently used go first. */
  maxTenants: number;
}

/** Data key operations for one vault. */
export interface DataKeys {
  /** The tenant's newest data key (created on first use): synchronously when cached and fresh. */
  current(tenant: string, api: string): CurrentKey | Promise<CurrentKey>;
  /** An unwrapped key already in the cache, without touching the store. */
  cached(tenant: string, generation: number): AeadKey | undefined;
  /** An unwrapped key, read from the store and unwrapped when not cached. */
  get(tenant: string, generation: number, api: string): Promise<AeadKey>;
  /** Creates a generation wrapped by the primary; false when another writer created it first. */
  create(tenant: string, generation: number, api: string): Promise<boolean>;
  /** Drops the tenant's current key, so the next encryption asks the store for the newest. */
  refresh(tenant: string): void;
  /** Re-wraps a stored data key under the primary master key; false when the row changed meanwhile. */
  rewrap(row: StoredDataKey, api: string): Promise<boolean>;
}

interface TenantEntry {
  current?: CurrentKey | undefined;
  refreshing?: Promise<CurrentKey> | undefined;
  byGeneration: Map<number, Promise<AeadKey>>;
  /** The keys of `byGeneration` that have resolved, for the synchronous fast path. */
  ready: Map<number, AeadKey>;
}

/** The id a data key generation has inside secret envelopes: `dk<generation>`. */
export function dataKeyId(generation: number): string {
  return `dk${generation}`;
}

/** The generation in a data key id (`dk7` → 7), or undefined. */
export function dataKeyGeneration(keyId: string): number | undefined {
  // Read on every decrypt: a character loop, the same as /^dk([1-9][0-9]{0,8})$/ without a regex.
  const length = keyId.length;
  if (length < 3 || length > 11 || keyId.charCodeAt(0) !== 0x64 || keyId.charCodeAt(1) !== 0x6b) return undefined;
  let generation = 0;
  for (let i = 2; i < length; i++) {
    const digit = keyId.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9 || (digit === 0 && i === 2)) return undefined;
    generation = generation * 10 + digit;
  }
  return generation;
}

/** Builds the data key manager of one vault. */
export function dataKeys({ crypto, keyring: ring, store, ttlMs, maxTenants }: DataKeysOptions): DataKeys {
  const masterKeys = new Map<string, Promise<AeadKey>>();
  const tenants = new Map<string, TenantEntry>();
  // The entry last in `tenants` (most recently used): reading it again needs no reordering.
  let newest: TenantEntry | undefined;

  const masterKey = (keyId: string, api: string): Promise<AeadKey> => {
    let key = masterKeys.get(keyId);
    if (!key) {
      key = crypto.importKey(keyMaterial(ring, keyId, api));
      masterKeys.set(keyId, key);
    }
    return key;
  };

  /** The tenant's cache entry, marked most recently used. */
  const entryOf = (tenant: string): TenantEntry => {
    let entry = tenants.get(tenant);
    if (entry) {
      tenants.delete(tenant);
    } else {
      entry = { byGeneration: new Map(), ready: new Map() };
      if (tenants.size >= maxTenants) {
        const oldest = tenants.keys().next();
        if (!oldest.done) tenants.delete(oldest.value);
      }
    }
    tenants.set(tenant, entry);
    newest = entry;
    return entry;
  };

  const binding = (tenant: string, generation: number): Binding => ({
    purpose: 'data-key',
    store: store.name,
    tenant,
    name: String(generation),
  });

  const wrap = async (raw: Uint8Array, tenant: string, generation: number, api: string): Promise<Uint8Array> => {
    const header = encodeHeader(ring.primary);
    const nonce = crypto.randomBytes(NONCE_BYTES);
    const aad = associatedData(header, binding(tenant, generation));
    const sealed = await crypto.seal(await masterKey(ring.primary, api), nonce, raw, aad);
    return joinEnvelope(header, nonce, sealed);
  };

  /** The raw data key bytes; the caller zeroes them. */
  const unwrapRaw = async (row: StoredDataKey, api: string): Promise<Uint8Array> => {
    const parsed = parseEnvelope(row.wrapped, api);
    const key = await masterKey(parsed.keyId, api);
    const aad = associatedData(parsed.header, binding(row.tenant, row.generation));
    const raw = await crypto.open(key, parsed.nonce, parsed.sealed, aad);
    if (!raw || raw.length !== KEY_BYTES) {
      raw?.fill(0);
      throw new VaultError(
        api,
        'decrypt_failed',
        `data key ${dataKeyId(row.generation)} of tenant ${row.tenant} failed authentication under master key ${parsed.keyId}`,
        { keyId: parsed.keyId, tenant: row.tenant },
      );
    }
    return raw;
  };

  const remember = (entry: TenantEntry, generation: number, key: Promise<AeadKey>): void => {
    entry.byGeneration.set(generation, key);
    key.then(
      (ready) => {
        if (entry.byGeneration.get(generation) === key) entry.ready.set(generation, ready);
      },
      () => {
        if (entry.byGeneration.get(generation) === key) entry.byGeneration.delete(generation);
      },
    );
  };

  const load = async (tenant: string, generation: number, api: string): Promise<AeadKey> => {
    const row = (await store.dataKeys(tenant)).find((k) => k.generation === generation);
    if (!row) {
      throw new VaultError(
        api,
        'key_missing',
        `data key ${dataKeyId(generation)} of tenant ${tenant} is not in the store`,
        {
          keyId: dataKeyId(generation),
          tenant,
        },
      );
    }
    const raw = await unwrapRaw(row, api);
    try {
      return await crypto.importKey(raw);
    } finally {
      raw.fill(0);
    }
  };

  const get = (tenant: string, generation: number, api: string): Promise<AeadKey> => {
    const entry = entryOf(tenant);
    let key = entry.byGeneration.get(generation);
    if (!key) {
      key = load(tenant, generation, api);
      remember(entry, generation, key);
    }
    return key;
  };

  const create = async (tenant: string, generation: number, api: string): Promise<boolean> => {
    const raw = crypto.randomBytes(KEY_BYTES);
    try {
      const wrapped = await wrap(raw, tenant, generation, api);
      const inserted = await store.insertDataKey({
        tenant,
        generation,
        wrapped,
        masterKeyId: ring.primary,
        createdUnder: ring.primary,
      });
      // Both implementations copy the bytes before importKey returns, so zeroing below is safe.
      if (inserted) remember(entryOf(tenant), generation, crypto.importKey(raw));
      return inserted;
    } finally {
      raw.fill(0);
    }
  };

  const refreshCurrent = async (tenant: string, entry: TenantEntry, api: string): Promise<CurrentKey> => {
    try {
      let newest = (await store.dataKeys(tenant)).at(-1);
      if (!newest) {
        await create(tenant, 1, api);
        newest = (await store.dataKeys(tenant)).at(-1);
      }
      if (!newest) throw new VaultError(api, 'store_failed', 'the store lost a data key it just wrote', { tenant });
      const current: CurrentKey = {
        generation: newest.generation,
        key: await get(tenant, newest.generation, api),
        header: encodeHeader(dataKeyId(newest.generation)),
        checkedAt: Date.now(),
      };
      entry.current = current;
      return current;
    } finally {
      entry.refreshing = undefined;
    }
  };

  return {
    current(tenant, api) {
      const entry = entryOf(tenant);
      if (entry.current && Date.now() - entry.current.checkedAt < ttlMs) return entry.current;
      entry.refreshing ??= refreshCurrent(tenant, entry, api);
      return entry.refreshing;
    },
    cached(tenant, generation) {
      const entry = tenants.get(tenant);
      if (!entry) return undefined;
      if (entry !== newest) {
        tenants.delete(tenant);
        tenants.set(tenant, entry);
        newest = entry;
      }
      return entry.ready.get(generation);
    },
    get,
    create,
    refresh(tenant) {
      const entry = tenants.get(tenant);
      if (entry) entry.current = undefined;
    },
    async rewrap(row, api) {
      const raw = await unwrapRaw(row, api);
      try {
        const wrapped = await wrap(raw, row.tenant, row.generation, api);
        return await store.rewrapDataKey(row.tenant, row.generation, row.wrapped, wrapped, ring.primary);
      } finally {
        raw.fill(0);
      }
    },
  };
}
