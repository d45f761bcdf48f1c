import type { AeadKey, VaultCrypto } from './crypto';
import { KEY_BYTES, NONCE_BYTES } from './crypto';
import {
  associatedData,
  type Binding,
  encodeHeader,
  joinEnvelope,
  type ParsedEnvelope,
  parseEnvelope,
  utf8Length,
  writeUtf8,
} from './envelope';
import { isVaultError, VaultError, type VaultErrorCode } from './errors';
import { keyring as buildKeyring, type Keyring, type KeyringConfig, keyMaterial } from './keyring';
import { isSecret, Secret } from './secret';
import type { SecretReplacement, StoredDataKey, VaultStore } from './store';

/** Options for {@link createVault}. */
export interface VaultOptions {
  /** The master keys: a {@link Keyring}, or configuration for {@link keyring}. */
  keyring: Keyring | KeyringConfig | string;
  /** Where envelopes and wrapped data keys live: `memoryVaultStore()` or `sqlVaultStore(db)`. */
  store: VaultStore;
  /**
   * How long a tenant's current data key is reused before the store is asked
   * whether another process rotated it.
   * @default 60_000
   */
  dataKeyTtlMs?: number;
  /**
   * How many tenants' unwrapped data keys stay in memory (least recently used
   * are dropped first).
   * @default 1_000
   */
  maxCachedTenants?: number;
}

/** What {@link Vault.list} tells about a secret: never its value. */
export interface SecretInfo {
  /** The secret's name within its tenant. */
  name: string;
  /** Id of the tenant data key that encrypts it, e.g. `dk1`. */
  keyId: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Options for {@link Vault.rotate} and {@link Vault.rotateTenant}. */
export interface RotateOptions {
  /**
   * Also give tenants (all with `true`, or those listed) a new data key and
   * re-encrypt their secrets with it: a tenant gets one unless its current
   * data key was created under the current primary master key, so a resumed
   * run does not start over.
   * @default false
   */
  reencrypt?: boolean | readonly string[];
  /**
   * Rows read and written per store round trip.
   * @default 200
   */
  batchSize?: number;
  /** Stops the job between batches (it rejects with the signal's reason); run it again to resume. */
  signal?: AbortSignal;
  /** Called after each batch with the progress so far. */
  onProgress?: (progress: RotationProgress) => void;
}

/** One row a rotation could not move (it is left as it was). */
export interface RotationFailure {
  tenant: string;
  /** The secret's name, or undefined for a data key. */
  name?: string;
  /** The data key generation, for a data key. */
  generation?: number;
  code: VaultErrorCode;
  /** The key id that was needed, when the failure is about a key. */
  keyId?: string;
}

/** Progress of a rotation job. */
export interface RotationProgress {
  /** `rewrap`: data keys onto the primary master key; `reencrypt`: secrets onto their tenant's newest data key. */
  phase: 'rewrap' | 'reencrypt' | 'done';
  /** Data keys re-wrapped under the primary master key by this run. */
  dataKeysRewrapped: number;
  /** New tenant data keys created by this run. */
  dataKeysCreated: number;
  /** Secrets that were on an older data key when the re-encrypt phase began. */
  secretsTotal: number;
  /** Secrets moved to their tenant's newest data key by this run (rows rewritten meanwhile by a put are not counted). */
  secretsReencrypted: number;
  /** Rows left as they were because they could not be read. */
  failures: RotationFailure[];
}

/** Which keys the stored data still needs: tells when a master key can be retired. */
export interface KeyStatus {
  /** The primary master key id. */
  primary: string;
  /** Data keys per master key id that wraps them. */
  dataKeysByMasterKey: Record<string, number>;
  /** Tenants that have data keys. */
  tenants: number;
  /** Secrets still on an older data key of their tenant. */
  secretsOnOldDataKeys: number;
}

/**
 * An encrypted, per-tenant secret store.
 *
 * Each secret is an AES-256-GCM envelope under its tenant's data key, bound
 * to its store, tenant and name; data keys are wrapped by the master keyring.
 */
export interface Vault {
  /** Encrypts and stores a secret, replacing any under the same tenant and name. */
  put(tenant: string, name: string, value: Secret | string): Promise<void>;
  /**
   * Reads and decrypts a secret.
   * @throws VaultError `not_found`, `decrypt_failed`, `key_missing`, `key_retired`, `malformed_envelope`.
   */
  get(tenant: string, name: string): Promise<Secret>;
  /** Deletes a secret; true when it existed. */
  delete(tenant: string, name: string): Promise<boolean>;
  /** A tenant's secrets: names and metadata, never values. */
  list(tenant: string): Promise<SecretInfo[]>;
  /**
   * Encrypts a value for a tenant and name without storing it; returns the
   * envelope as base64, for apps that keep ciphertext in their own columns.
   */
  encrypt(tenant: string, name: string, value: Secret | string): Promise<string>;
  /** Decrypts an envelope made by {@link Vault.encrypt} for the same tenant and name. */
  decrypt(tenant: string, name: string, envelope: string | Uint8Array): Promise<Secret>;
  /**
   * Moves everything onto the current keys: re-wraps data keys under the
   * primary master key, optionally gives tenants new data keys, and
   * re-encrypts secrets still on an older data key. Resumable: stop it at any
   * point and run it again; every row is swapped atomically.
   */
  rotate(options?: RotateOptions): Promise<RotationProgress>;
  /** Gives one tenant a new data key and re-encrypts its secrets with it. */
  rotateTenant(tenant: string, options?: Omit<RotateOptions, 'reencrypt'>): Promise<RotationProgress>;
  /** Counts which keys stored data still needs. */
  keyStatus(): Promise<KeyStatus>;
}

const DEFAULTS = { dataKeyTtlMs: 60_000, maxCachedTenants: 1_000, batchSize: 200 } as const;
const MAX_LABEL = 256;
const DATA_KEY_ID = /^dk([1-9][0-9]{0,8})$/;
// Not fatal: the bytes were authenticated, and were valid UTF-8 when encrypted.
const decoder = new TextDecoder();

interface CurrentKey {
  generation: number;
  key: AeadKey;
  header: Uint8Array;
  checkedAt: number;
}

interface TenantKeys {
  current?: CurrentKey | undefined;
  refreshing?: Promise<CurrentKey> | undefined;
  byGeneration: Map<number, Promise<AeadKey>>;
  /** The keys of `byGeneration` that have resolved, for the synchronous fast path. */
  ready: Map<number, AeadKey>;
}

/** The id a data key generation has inside secret envelopes. */
export function dataKeyId(generation: number): string {
  return `dk${generation}`;
}

/**
 * Builds a vault on the given crypto implementation.
 * @internal `createVault` passes the one picked by export condition.
 */
export function createVaultWith(crypto: VaultCrypto, options: VaultOptions): Vault {
  const ring = buildKeyring(options.keyring);
  const store = options.store;
  if (typeof store !== 'object' || store === null || typeof store.getSecret !== 'function') {
    throw new VaultError(
      'createVault',
      'invalid_argument',
      'store must be a vault store (memoryVaultStore() or sqlVaultStore(db))',
    );
  }
  const ttl = nonNegative(options.dataKeyTtlMs ?? DEFAULTS.dataKeyTtlMs, 'dataKeyTtlMs');
  const maxTenants = positiveInt(options.maxCachedTenants ?? DEFAULTS.maxCachedTenants, 'maxCachedTenants');
  const masterKeys = new Map<string, Promise<AeadKey>>();
  const tenants = new Map<string, TenantKeys>();

  const masterKey = (keyId: string, api: string): Promise<AeadKey> => {
    let key = masterKeys.get(keyId);
    if (!key) {
      key = crypto.importKey(keyMaterial(ring, keyId, api));
      masterKeys.set(keyId, key);
    }
    return key;
  };

  const tenantKeys = (tenant: string): TenantKeys => {
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
    return entry;
  };

  const dataKeyBinding = (tenant: string, generation: number): Binding => ({
    purpose: 'data-key',
    store: store.name,
    tenant,
    name: String(generation),
  });

  const wrap = async (raw: Uint8Array, tenant: string, generation: number, api: string): Promise<Uint8Array> => {
    const header = encodeHeader(ring.primary);
    const nonce = crypto.randomBytes(NONCE_BYTES);
    const sealed = await crypto.seal(
      await masterKey(ring.primary, api),
      nonce,
      raw,
      associatedData(header, dataKeyBinding(tenant, generation)),
    );
    return joinEnvelope(header, nonce, sealed);
  };

  const unwrapRaw = async (row: StoredDataKey, api: string): Promise<Uint8Array> => {
    const parsed = parseEnvelope(row.wrapped, api);
    const key = await masterKey(parsed.keyId, api);
    const raw = await crypto.open(
      key,
      parsed.nonce,
      parsed.sealed,
      associatedData(parsed.header, dataKeyBinding(row.tenant, row.generation)),
    );
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

  const unwrap = async (row: StoredDataKey, api: string): Promise<AeadKey> => {
    const raw = await unwrapRaw(row, api);
    try {
      return await crypto.importKey(raw);
    } finally {
      raw.fill(0);
    }
  };

  const dataKey = (tenant: string, generation: number, api: string): Promise<AeadKey> => {
    const entry = tenantKeys(tenant);
    let key = entry.byGeneration.get(generation);
    if (!key) {
      key = (async () => {
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
        return unwrap(row, api);
      })();
      remember(entry, generation, key);
    }
    return key;
  };

  const remember = (entry: TenantKeys, generation: number, key: Promise<AeadKey>): void => {
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

  /** Creates generation `generation` for a tenant; false when another writer created it first. */
  const createDataKey = async (tenant: string, generation: number, api: string): Promise<boolean> => {
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
      if (inserted) remember(tenantKeys(tenant), generation, crypto.importKey(raw));
      return inserted;
    } finally {
      // importKey copies the bytes synchronously on both implementations.
      raw.fill(0);
    }
  };

  /** The tenant's current data key: synchronously when cached and fresh, else a promise. */
  const currentKey = (tenant: string, api: string): CurrentKey | Promise<CurrentKey> => {
    const entry = tenantKeys(tenant);
    if (entry.current && Date.now() - entry.current.checkedAt < ttl) return entry.current;
    entry.refreshing ??= (async () => {
      try {
        let newest = (await store.dataKeys(tenant)).at(-1);
        if (!newest) {
          await createDataKey(tenant, 1, api);
          newest = (await store.dataKeys(tenant)).at(-1);
        }
        if (!newest) throw new VaultError(api, 'store_failed', 'the store lost a data key it just wrote', { tenant });
        const current: CurrentKey = {
          generation: newest.generation,
          key: await dataKey(tenant, newest.generation, api),
          header: encodeHeader(dataKeyId(newest.generation)),
          checkedAt: Date.now(),
        };
        entry.current = current;
        return current;
      } finally {
        entry.refreshing = undefined;
      }
    })();
    return entry.refreshing;
  };

  /** Encrypts a value for a tenant and name; the steady state awaits nothing on node:crypto. */
  const sealValue = async (tenant: string, name: string, value: Secret | string, api: string) => {
    const text = plainText(value, api);
    const plaintext = new Uint8Array(utf8Length(text));
    writeUtf8(plaintext, 0, text);
    try {
      const pending = currentKey(tenant, api);
      const current = pending instanceof Promise ? await pending : pending;
      const nonce = crypto.randomBytes(NONCE_BYTES);
      const aad = associatedData(current.header, { purpose: 'secret', store: store.name, tenant, name });
      const sealing = crypto.seal(current.key, nonce, plaintext, aad);
      const sealed = sealing instanceof Promise ? await sealing : sealing;
      return { envelope: joinEnvelope(current.header, nonce, sealed), generation: current.generation };
    } finally {
      plaintext.fill(0);
    }
  };

  /**
   * Decrypts an envelope bound to a tenant and name; the caller zeroes the
   * result. Synchronous when the data key is cached and the crypto is
   * (node:crypto), so the steady state adds no ticks.
   */
  const openBytes = (
    tenant: string,
    name: string,
    envelope: Uint8Array,
    api: string,
  ): Uint8Array | Promise<Uint8Array> => {
    const parsed = parseEnvelope(envelope, api);
    const generation = dataKeyGeneration(parsed.keyId);
    if (generation === undefined) {
      throw new VaultError(api, 'malformed_envelope', `envelope key id ${parsed.keyId} is not a tenant data key id`, {
        tenant,
        secretName: name,
      });
    }
    const ready = tenantKeys(tenant).ready.get(generation);
    if (ready) return openWith(ready, parsed, tenant, name, api);
    return dataKey(tenant, generation, api).then((key) => openWith(key, parsed, tenant, name, api));
  };

  const openWith = (
    key: AeadKey,
    parsed: ParsedEnvelope,
    tenant: string,
    name: string,
    api: string,
  ): Uint8Array | Promise<Uint8Array> => {
    const aad = associatedData(parsed.header, { purpose: 'secret', store: store.name, tenant, name });
    const opened = crypto.open(key, parsed.nonce, parsed.sealed, aad);
    if (opened instanceof Promise)
      return opened.then((plaintext) => authentic(plaintext, parsed.keyId, tenant, name, api));
    return authentic(opened, parsed.keyId, tenant, name, api);
  };

  /** Decrypts an envelope into a {@link Secret}, zeroing the plaintext bytes. */
  const openSecret = async (tenant: string, name: string, envelope: Uint8Array, api: string): Promise<Secret> => {
    const opened = openBytes(tenant, name, envelope, api);
    const plaintext = opened instanceof Promise ? await opened : opened;
    const text = decoder.decode(plaintext);
    plaintext.fill(0);
    if (text.length === 0) {
      throw new VaultError(api, 'decrypt_failed', `secret ${name} of tenant ${tenant} decrypted to nothing`, {
        tenant,
        secretName: name,
      });
    }
    return Secret.from(text);
  };

  const runRotation = async (
    api: string,
    opts: RotateOptions,
    only: ReadonlySet<string> | undefined,
    force: boolean,
  ): Promise<RotationProgress> => {
    const batchSize = positiveInt(opts.batchSize ?? DEFAULTS.batchSize, 'batchSize', api);
    const signal = opts.signal;
    const wantsNewKey = (tenant: string): boolean =>
      force || opts.reencrypt === true || (Array.isArray(opts.reencrypt) && opts.reencrypt.includes(tenant));
    const progress: RotationProgress = {
      phase: 'rewrap',
      dataKeysRewrapped: 0,
      dataKeysCreated: 0,
      secretsTotal: 0,
      secretsReencrypted: 0,
      failures: [],
    };
    const report = (): void => opts.onProgress?.({ ...progress, failures: [...progress.failures] });
    const fail = (error: unknown, failure: Omit<RotationFailure, 'code'>): void => {
      if (!isVaultError(error)) throw error;
      progress.failures.push({ ...failure, code: error.code, ...(error.keyId ? { keyId: error.keyId } : {}) });
    };
    signal?.throwIfAborted();

    // Phase 1: re-wrap data keys under the primary master key.
    const newest = new Map<string, StoredDataKey>();
    let after: StoredDataKey | undefined;
    for (;;) {
      const batch = only
        ? (await Promise.all([...only].map((tenant) => store.dataKeys(tenant)))).flat()
        : await store.scanDataKeys(after && { tenant: after.tenant, generation: after.generation }, batchSize);
      for (const row of batch) {
        newest.set(row.tenant, row);
        if (row.masterKeyId === ring.primary) continue;
        try {
          const raw = await unwrapRaw(row, api);
          try {
            const wrapped = await wrap(raw, row.tenant, row.generation, api);
            if (await store.rewrapDataKey(row.tenant, row.generation, row.wrapped, wrapped, ring.primary)) {
              progress.dataKeysRewrapped++;
            }
          } finally {
            raw.fill(0);
          }
        } catch (error) {
          fail(error, { tenant: row.tenant, generation: row.generation });
        }
      }
      report();
      signal?.throwIfAborted();
      if (only || batch.length < batchSize) break;
      after = batch.at(-1);
    }

    // Phase 2: new data keys where asked, then count what needs re-encrypting.
    progress.phase = 'reencrypt';
    const targets: { tenant: string; generation: number }[] = [];
    for (const [tenant, row] of newest) {
      let generation = row.generation;
      if (wantsNewKey(tenant) && (force || row.createdUnder !== ring.primary)) {
        if (await createDataKey(tenant, generation + 1, api)) progress.dataKeysCreated++;
        generation = (await store.dataKeys(tenant)).at(-1)?.generation ?? generation + 1;
        const entry = tenantKeys(tenant);
        entry.current = undefined;
      }
      if (generation > 1) {
        const count = await store.countSecretsBelow(tenant, generation);
        if (count > 0) {
          targets.push({ tenant, generation });
          progress.secretsTotal += count;
        }
      }
      signal?.throwIfAborted();
    }
    report();

    // Phase 3: re-encrypt, each row swapped only if it still holds what was read.
    for (const { tenant, generation } of targets) {
      const key = await dataKey(tenant, generation, api);
      const header = encodeHeader(dataKeyId(generation));
      let cursor: string | undefined;
      for (;;) {
        const batch = await store.secretsBelow(tenant, generation, cursor, batchSize);
        const replacements: SecretReplacement[] = [];
        for (const row of batch) {
          try {
            const plaintext = await openBytes(tenant, row.name, row.envelope, api);
            try {
              const nonce = crypto.randomBytes(NONCE_BYTES);
              const aad = associatedData(header, { purpose: 'secret', store: store.name, tenant, name: row.name });
              const sealed = await crypto.seal(key, nonce, plaintext, aad);
              replacements.push({
                name: row.name,
                expected: row.envelope,
                envelope: joinEnvelope(header, nonce, sealed),
                dataKey: generation,
              });
            } finally {
              plaintext.fill(0);
            }
          } catch (error) {
            fail(error, { tenant, name: row.name });
          }
        }
        // A row that changed since it was read is left alone: a concurrent put rewrote it.
        progress.secretsReencrypted += (await store.replaceSecrets(tenant, replacements)).length;
        report();
        signal?.throwIfAborted();
        if (batch.length < batchSize) break;
        cursor = batch.at(-1)?.name;
      }
    }
    progress.phase = 'done';
    report();
    return progress;
  };

  const api = {
    async put(tenant: string, name: string, value: Secret | string) {
      checkLabels(tenant, name, 'vault.put');
      const { envelope, generation } = await sealValue(tenant, name, value, 'vault.put');
      await store.putSecret(tenant, name, envelope, generation);
    },
    async get(tenant: string, name: string) {
      checkLabels(tenant, name, 'vault.get');
      const row = await store.getSecret(tenant, name);
      if (!row) {
        throw new VaultError('vault.get', 'not_found', `no secret ${name} for tenant ${tenant}`, {
          tenant,
          secretName: name,
        });
      }
      return await openSecret(tenant, name, row.envelope, 'vault.get');
    },
    async delete(tenant: string, name: string) {
      checkLabels(tenant, name, 'vault.delete');
      return store.deleteSecret(tenant, name);
    },
    async list(tenant: string) {
      checkLabels(tenant, undefined, 'vault.list');
      const rows = await store.listSecrets(tenant);
      return rows.map((row) => ({
        name: row.name,
        keyId: dataKeyId(row.dataKey),
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
      }));
    },
    async encrypt(tenant: string, name: string, value: Secret | string) {
      checkLabels(tenant, name, 'vault.encrypt');
      return crypto.toBase64((await sealValue(tenant, name, value, 'vault.encrypt')).envelope);
    },
    async decrypt(tenant: string, name: string, envelope: string | Uint8Array) {
      checkLabels(tenant, name, 'vault.decrypt');
      const bytes = typeof envelope === 'string' ? crypto.fromBase64(envelope) : envelope;
      return await openSecret(tenant, name, bytes, 'vault.decrypt');
    },
    rotate(opts: RotateOptions = {}) {
      return runRotation('vault.rotate', opts, undefined, false);
    },
    rotateTenant(tenant: string, opts: Omit<RotateOptions, 'reencrypt'> = {}) {
      checkLabels(tenant, undefined, 'vault.rotateTenant');
      return runRotation('vault.rotateTenant', opts, new Set([tenant]), true);
    },
    async keyStatus() {
      const status: KeyStatus = { primary: ring.primary, dataKeysByMasterKey: {}, tenants: 0, secretsOnOldDataKeys: 0 };
      const newest = new Map<string, number>();
      let after: StoredDataKey | undefined;
      for (;;) {
        const batch = await store.scanDataKeys(after, DEFAULTS.batchSize);
        for (const row of batch) {
          status.dataKeysByMasterKey[row.masterKeyId] = (status.dataKeysByMasterKey[row.masterKeyId] ?? 0) + 1;
          newest.set(row.tenant, row.generation);
        }
        if (batch.length < DEFAULTS.batchSize) break;
        after = batch.at(-1);
      }
      status.tenants = newest.size;
      for (const [tenant, generation] of newest) {
        if (generation > 1) status.secretsOnOldDataKeys += await store.countSecretsBelow(tenant, generation);
      }
      return status;
    },
  } satisfies Vault;
  return Object.freeze(api);
}

/** Returns the plaintext, or throws `decrypt_failed` when authentication failed. */
function authentic(
  plaintext: Uint8Array | undefined,
  keyId: string,
  tenant: string,
  name: string,
  api: string,
): Uint8Array {
  if (plaintext) return plaintext;
  throw new VaultError(
    api,
    'decrypt_failed',
    `secret ${name} of tenant ${tenant} failed authentication: it was altered, or belongs to another tenant, name or store`,
    { tenant, secretName: name, keyId },
  );
}

/** The text of a value given to put/encrypt: a non-empty string or a Secret. */
function plainText(value: Secret | string, api: string): string {
  const text = isSecret(value) ? value.reveal() : value;
  if (typeof text !== 'string' || text.length === 0) {
    const got = text === '' ? 'an empty string' : typeof text;
    throw new VaultError(api, 'invalid_secret', `a secret must be a Secret or a non-empty string, got ${got}`);
  }
  return text;
}

/** The generation in a data key id (`dk7` → 7), or undefined. */
function dataKeyGeneration(keyId: string): number | undefined {
  const digits = DATA_KEY_ID.exec(keyId)?.[1];
  return digits === undefined ? undefined : Number(digits);
}

function checkLabels(tenant: string, name: string | undefined, api: string): void {
  if (!validLabel(tenant)) throw badLabel('tenant', api);
  if (name !== undefined && !validLabel(name)) throw badLabel('name', api);
}

function validLabel(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_LABEL;
}

function badLabel(label: string, api: string): VaultError {
  return new VaultError(api, 'invalid_argument', `${label} must be a string of 1-${MAX_LABEL} characters`);
}

function nonNegative(value: number, option: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new VaultError('createVault', 'invalid_argument', `${option} must be a finite number >= 0`);
  }
  return value;
}

function positiveInt(value: number, option: string, api = 'createVault'): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new VaultError(api, 'invalid_argument', `${option} must be a positive integer`);
  }
  return value;
}
