import type { VaultCrypto } from './crypto';
import { dataKeyId, dataKeys } from './data-keys';
import { utf8Length, writeUtf8 } from './envelope';
import { VaultError } from './errors';
import { keyring as buildKeyring, type Keyring, type KeyringConfig } from './keyring';
import { type KeyStatus, keyStatus, type RotateOptions, type RotationProgress, runRotation } from './rotation';
import { Secret } from './secret';
import { secretCipher } from './secret-cipher';
import type { VaultStore } from './store';
import { checkLabels, nonNegative, plainText, positiveInt } from './validate';

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
  /** Decrypts an envelope made by {@link Vault.encrypt} (or stored by put) for the same tenant and name. */
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

const DEFAULTS = { dataKeyTtlMs: 60_000, maxCachedTenants: 1_000 } as const;
// Not fatal: the bytes were authenticated, and were valid UTF-8 when encrypted.
const decoder = new TextDecoder();

/**
 * Builds a vault on the given crypto implementation.
 * @internal `createVault` passes the one picked by export condition; tests pass either.
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
  const keys = dataKeys({
    crypto,
    keyring: ring,
    store,
    ttlMs: nonNegative(options.dataKeyTtlMs ?? DEFAULTS.dataKeyTtlMs, 'dataKeyTtlMs', 'createVault'),
    maxTenants: positiveInt(options.maxCachedTenants ?? DEFAULTS.maxCachedTenants, 'maxCachedTenants', 'createVault'),
  });
  const cipher = secretCipher(crypto, keys, store.name);
  const rotation = { store, keyring: ring, keys, cipher };

  /** Encrypts a value; zeroes the plaintext bytes afterwards. */
  const seal = async (tenant: string, name: string, value: Secret | string, api: string) => {
    const text = plainText(value, api);
    const plaintext = new Uint8Array(utf8Length(text));
    writeUtf8(plaintext, 0, text);
    try {
      const sealed = cipher.seal(tenant, name, plaintext, api);
      return sealed instanceof Promise ? await sealed : sealed;
    } finally {
      plaintext.fill(0);
    }
  };

  /**
   * Decrypts an envelope into a {@link Secret}, zeroing the plaintext bytes.
   * Synchronous when the data key is cached and the crypto is (node:crypto),
   * so `get` and `decrypt` add no promise of their own to the steady state.
   */
  const open = (tenant: string, name: string, envelope: Uint8Array, api: string): Secret | Promise<Secret> => {
    const opened = cipher.open(tenant, name, envelope, api);
    return opened instanceof Promise
      ? opened.then((plaintext) => toSecret(plaintext, tenant, name, api))
      : toSecret(opened, tenant, name, api);
  };

  const vault: Vault = {
    async put(tenant, name, value) {
      checkLabels(tenant, name, 'vault.put');
      const { envelope, generation } = await seal(tenant, name, value, 'vault.put');
      await store.putSecret(tenant, name, envelope, generation);
    },
    async get(tenant, name) {
      checkLabels(tenant, name, 'vault.get');
      const row = await store.getSecret(tenant, name);
      if (!row) {
        throw new VaultError('vault.get', 'not_found', `no secret ${name} for tenant ${tenant}`, {
          tenant,
          secretName: name,
        });
      }
      const opened = open(tenant, name, row.envelope, 'vault.get');
      return opened instanceof Promise ? await opened : opened;
    },
    async delete(tenant, name) {
      checkLabels(tenant, name, 'vault.delete');
      return store.deleteSecret(tenant, name);
    },
    async list(tenant) {
      checkLabels(tenant, undefined, 'vault.list');
      const rows = await store.listSecrets(tenant);
      return rows.map((row) => ({
        name: row.name,
        keyId: dataKeyId(row.dataKey),
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
      }));
    },
    async encrypt(tenant, name, value) {
      checkLabels(tenant, name, 'vault.encrypt');
      return crypto.toBase64((await seal(tenant, name, value, 'vault.encrypt')).envelope);
    },
    async decrypt(tenant, name, envelope) {
      checkLabels(tenant, name, 'vault.decrypt');
      const bytes = typeof envelope === 'string' ? crypto.fromBase64(envelope) : envelope;
      const opened = open(tenant, name, bytes, 'vault.decrypt');
      return opened instanceof Promise ? await opened : opened;
    },
    async rotate(opts = {}) {
      return runRotation(rotation, 'vault.rotate', opts, { forceNewDataKey: false });
    },
    async rotateTenant(tenant, opts = {}) {
      checkLabels(tenant, undefined, 'vault.rotateTenant');
      return runRotation(rotation, 'vault.rotateTenant', opts, { tenants: new Set([tenant]), forceNewDataKey: true });
    },
    keyStatus: () => keyStatus(store, ring),
  };
  return Object.freeze(vault);
}

/** The plaintext as a {@link Secret}; zeroes the bytes. */
function toSecret(plaintext: Uint8Array, tenant: string, name: string, api: string): Secret {
  const text = decoder.decode(plaintext);
  plaintext.fill(0);
  if (text.length === 0) {
    throw new VaultError(api, 'decrypt_failed', `secret ${name} of tenant ${tenant} decrypted to nothing`, {
      tenant,
      secretName: name,
    });
  }
  return Secret.from(text);
}
