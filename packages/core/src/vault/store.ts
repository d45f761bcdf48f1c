/**
 * The driver contract behind a vault: rows of ciphertext and metadata only.
 * Drivers never see plaintext or unwrapped keys.
 */
import { VaultError } from './errors';

/** One stored secret: its envelope and metadata. */
export interface StoredSecret {
  tenant: string;
  name: string;
  /** The envelope bytes (see docs/vault.md for the layout). */
  envelope: Uint8Array;
  /** Generation of the tenant's data key that encrypted it. */
  dataKey: number;
  createdAt: Date;
  updatedAt: Date;
}

/** One tenant data key, wrapped by a master key. */
export interface StoredDataKey {
  tenant: string;
  /** 1, 2, 3, ... per tenant; the highest is the one new secrets use. */
  generation: number;
  /** The data key, as an envelope under master key `masterKeyId`. */
  wrapped: Uint8Array;
  /** Id of the master key that wraps it now. */
  masterKeyId: string;
  /** Id of the master key that was primary when it was created. */
  createdUnder: string;
  createdAt: Date;
}

/** A conditional replacement: applied only if the row still holds `expected`. */
export interface SecretReplacement {
  name: string;
  expected: Uint8Array;
  envelope: Uint8Array;
  dataKey: number;
}

/**
 * Storage for a vault. Every method is one atomic operation; replacements
 * compare-and-set on the old envelope, so concurrent writers and readers in
 * other processes are safe.
 */
export interface VaultStore {
  /** The store's name, bound into every ciphertext: bytes copied to another store fail to decrypt. */
  readonly name: string;
  /** Reads one secret. */
  getSecret(tenant: string, name: string): Promise<StoredSecret | undefined>;
  /** Inserts or overwrites one secret. */
  putSecret(tenant: string, name: string, envelope: Uint8Array, dataKey: number): Promise<void>;
  /** Deletes one secret; true when it existed. */
  deleteSecret(tenant: string, name: string): Promise<boolean>;
  /** A tenant's secrets without their envelopes, ordered by name. */
  listSecrets(tenant: string): Promise<Omit<StoredSecret, 'envelope'>[]>;
  /** Up to `limit` of a tenant's secrets on a data key older than `generation`, by name after `after`. */
  secretsBelow(tenant: string, generation: number, after: string | undefined, limit: number): Promise<StoredSecret[]>;
  /** How many of a tenant's secrets are on a data key older than `generation`. */
  countSecretsBelow(tenant: string, generation: number): Promise<number>;
  /** Applies each replacement whose row still holds `expected`; returns the names replaced. */
  replaceSecrets(tenant: string, replacements: readonly SecretReplacement[]): Promise<string[]>;
  /** Reads a tenant's data keys, by generation ascending. */
  dataKeys(tenant: string): Promise<StoredDataKey[]>;
  /** Inserts a data key; false (and nothing written) when that generation already exists. */
  insertDataKey(key: Omit<StoredDataKey, 'createdAt'>): Promise<boolean>;
  /** Re-wraps a data key if it still holds `expected`; true when replaced. */
  rewrapDataKey(
    tenant: string,
    generation: number,
    expected: Uint8Array,
    wrapped: Uint8Array,
    masterKeyId: string,
  ): Promise<boolean>;
  /** Up to `limit` data keys of all tenants, ordered by tenant then generation, after the given position. */
  scanDataKeys(after: { tenant: string; generation: number } | undefined, limit: number): Promise<StoredDataKey[]>;
}

/** True when two byte arrays hold the same bytes (not constant-time: envelopes are not secret). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return true;
  return false;
}

/**
 * Checks a store name: 1-64 printable characters.
 * @internal
 */
export function validStoreName(name: unknown, api: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 64 || hasControlCharacter(name)) {
    throw new VaultError(api, 'invalid_argument', 'the store name must be 1-64 printable characters');
  }
  return name;
}
