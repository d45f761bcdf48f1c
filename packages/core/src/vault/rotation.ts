/**
 * The rotation job: moves data keys onto the primary master key and secrets
 * onto their tenant's newest data key. It keeps no state of its own (what
 * needs moving is read from the rows), so stopping and running it again
 * resumes; every row is swapped with compare-and-set on its old bytes.
 */
import type { AeadKey } from './crypto';
import { type DataKeys, dataKeyId } from './data-keys';
import { encodeHeader } from './envelope';
import { isVaultError, type VaultErrorCode } from './errors';
import type { Keyring } from './keyring';
import type { SecretCipher } from './secret-cipher';
import type { SecretReplacement, StoredDataKey, VaultStore } from './store';
import { positiveInt } from './validate';

/** Options for `vault.rotate()` and `vault.rotateTenant()`. */
export interface RotateOptions {
  /**
   * Also give tenants (all with `true`, or those listed) a new data key and
   * re-encrypt their secrets with it. A tenant gets one unless its newest
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

/**
 * What a compromise of one master key exposes, to whoever also holds a copy
 * of the store (now or from before a re-wrap).
 */
export interface KeyExposure {
  /**
   * Data keys whose material this master key has protected: those created
   * under it and those it wraps now. Re-wrapping a data key under another
   * master key does not change its material, so a data key stays exposed
   * until no secret uses it.
   */
  dataKeys: number;
  /** Tenants with at least one secret on such a data key. */
  tenants: number;
  /**
   * Secrets encrypted with such a data key. After a compromise, this is the
   * number that must reach 0: make a new primary and run
   * `rotate({ reencrypt: true })`, which gives those tenants new data keys
   * created under it and re-encrypts their secrets.
   */
  secrets: number;
}

/** Which keys stored data still needs, and what each master key exposes. */
export interface KeyStatus {
  /** The primary master key id. */
  primary: string;
  /**
   * Data keys per id of the master key that wraps them now: a master key
   * absent here is no longer needed to decrypt, and can be retired.
   */
  dataKeysByMasterKey: Record<string, number>;
  /**
   * Per master key id: the data keys created under it or wrapped by it, and
   * the secrets on them, which a compromise of that key exposes. A re-wrap
   * (`rotate()` without `reencrypt`) does not reduce it; re-encryption with
   * new data keys does.
   */
  exposure: Record<string, KeyExposure>;
  /** Tenants that have data keys. */
  tenants: number;
  /** Secrets still on an older data key of their tenant. */
  secretsOnOldDataKeys: number;
}

/** What a rotation works with. */
export interface RotationContext {
  store: VaultStore;
  keyring: Keyring;
  keys: DataKeys;
  cipher: SecretCipher;
}

/** Which tenants a run covers, and whether each gets a new data key regardless. */
export interface RotationScope {
  /** Only these tenants; all tenants when undefined. */
  tenants?: ReadonlySet<string>;
  /** Create a new data key for every covered tenant, whatever it was created under. */
  forceNewDataKey: boolean;
}

const DEFAULT_BATCH = 200;

/** Runs one rotation pass. */
export async function runRotation(
  ctx: RotationContext,
  api: string,
  options: RotateOptions,
  scope: RotationScope,
): Promise<RotationProgress> {
  const { store, keyring: ring, keys, cipher } = ctx;
  const batchSize = positiveInt(options.batchSize ?? DEFAULT_BATCH, 'batchSize', api);
  const { signal, reencrypt } = options;
  const wantsNewKey = (tenant: string, row: StoredDataKey): boolean =>
    scope.forceNewDataKey ||
    ((reencrypt === true || (Array.isArray(reencrypt) && reencrypt.includes(tenant))) &&
      row.createdUnder !== ring.primary);
  const progress: RotationProgress = {
    phase: 'rewrap',
    dataKeysRewrapped: 0,
    dataKeysCreated: 0,
    secretsTotal: 0,
    secretsReencrypted: 0,
    failures: [],
  };
  const report = (): void => options.onProgress?.({ ...progress, failures: [...progress.failures] });
  const fail = (error: unknown, failure: Omit<RotationFailure, 'code'>): void => {
    if (!isVaultError(error)) throw error;
    progress.failures.push({ ...failure, code: error.code, ...(error.keyId ? { keyId: error.keyId } : {}) });
  };
  signal?.throwIfAborted();

  // Phase 1: re-wrap data keys under the primary master key, noting each tenant's newest.
  const newest = new Map<string, StoredDataKey>();
  for await (const batch of dataKeyBatches(store, scope.tenants, batchSize)) {
    for (const row of batch) {
      newest.set(row.tenant, row);
      if (row.masterKeyId === ring.primary) continue;
      try {
        if (await keys.rewrap(row, api)) progress.dataKeysRewrapped++;
      } catch (error) {
        fail(error, { tenant: row.tenant, generation: row.generation });
      }
    }
    report();
    signal?.throwIfAborted();
  }

  // Phase 2: new data keys where asked, then count what needs re-encrypting.
  progress.phase = 'reencrypt';
  const targets: { tenant: string; generation: number }[] = [];
  for (const [tenant, row] of newest) {
    let generation = row.generation;
    if (wantsNewKey(tenant, row)) {
      if (await keys.create(tenant, generation + 1, api)) progress.dataKeysCreated++;
      // Another process may have created it first; either way the newest is what counts.
      generation = (await store.dataKeys(tenant)).at(-1)?.generation ?? generation + 1;
      keys.refresh(tenant);
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

  // Phase 3: re-encrypt in batches; each row is swapped only if it still holds what was read.
  for (const { tenant, generation } of targets) {
    let key: AeadKey;
    try {
      key = await keys.get(tenant, generation, api);
    } catch (error) {
      // The tenant's newest data key cannot be unwrapped: its secrets stay as they are.
      fail(error, { tenant, generation });
      continue;
    }
    const header = encodeHeader(dataKeyId(generation));
    let cursor: string | undefined;
    for (;;) {
      const batch = await store.secretsBelow(tenant, generation, cursor, batchSize);
      const replacements: SecretReplacement[] = [];
      for (const row of batch) {
        try {
          const plaintext = await cipher.open(tenant, row.name, row.envelope, api);
          try {
            const envelope = await cipher.sealWith(key, header, tenant, row.name, plaintext);
            replacements.push({ name: row.name, expected: row.envelope, envelope, dataKey: generation });
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
}

/** Counts which keys the stored data still needs, and what each master key exposes. */
export async function keyStatus(store: VaultStore, ring: Keyring): Promise<KeyStatus> {
  const status: KeyStatus = {
    primary: ring.primary,
    // Keyed by master key ids, which may be any valid id (`__proto__` included).
    dataKeysByMasterKey: Object.create(null) as Record<string, number>,
    exposure: Object.create(null) as Record<string, KeyExposure>,
    tenants: 0,
    secretsOnOldDataKeys: 0,
  };
  // Per tenant: the master keys that have protected each generation's material.
  const tenants = new Map<string, Map<number, ReadonlySet<string>>>();
  for await (const batch of dataKeyBatches(store, undefined, DEFAULT_BATCH)) {
    for (const row of batch) {
      status.dataKeysByMasterKey[row.masterKeyId] = (status.dataKeysByMasterKey[row.masterKeyId] ?? 0) + 1;
      const protectors = new Set([row.createdUnder, row.masterKeyId]);
      for (const id of protectors) exposureOf(status, id).dataKeys++;
      let generations = tenants.get(row.tenant);
      if (!generations) {
        generations = new Map();
        tenants.set(row.tenant, generations);
      }
      generations.set(row.generation, protectors);
    }
  }
  status.tenants = tenants.size;
  for (const [tenant, generations] of tenants) {
    const newest = Math.max(...generations.keys());
    const exposedHere = new Set<string>();
    for (const secret of await store.listSecrets(tenant)) {
      if (secret.dataKey < newest) status.secretsOnOldDataKeys++;
      for (const id of generations.get(secret.dataKey) ?? []) {
        exposureOf(status, id).secrets++;
        exposedHere.add(id);
      }
    }
    for (const id of exposedHere) exposureOf(status, id).tenants++;
  }
  return status;
}

function exposureOf(status: KeyStatus, masterKeyId: string): KeyExposure {
  let exposure = status.exposure[masterKeyId];
  if (!exposure) {
    exposure = { dataKeys: 0, tenants: 0, secrets: 0 };
    status.exposure[masterKeyId] = exposure;
  }
  return exposure;
}

/** The data keys of the given tenants (one batch), or of every tenant in pages ordered by tenant and generation. */
async function* dataKeyBatches(
  store: VaultStore,
  tenants: ReadonlySet<string> | undefined,
  batchSize: number,
): AsyncGenerator<StoredDataKey[]> {
  if (tenants) {
    yield (await Promise.all([...tenants].map((tenant) => store.dataKeys(tenant)))).flat();
    return;
  }
  let after: { tenant: string; generation: number } | undefined;
  for (;;) {
    const batch = await store.scanDataKeys(after, batchSize);
    if (batch.length > 0) yield batch;
    const last = batch.at(-1);
    if (!last || batch.length < batchSize) return;
    after = { tenant: last.tenant, generation: last.generation };
  }
}
