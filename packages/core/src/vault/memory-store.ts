import { type StoredDataKey, type StoredSecret, sameBytes, type VaultStore, validStoreName } from './store';

/** Options for {@link memoryVaultStore}. */
export interface MemoryVaultStoreOptions {
  /**
   * The store's name, bound into every ciphertext.
   * @default 'default'
   */
  name?: string;
}

/**
 * A vault store in process memory, for tests and throwaway use. Holds
 * ciphertext only, like every store; it is lost when the process ends.
 *
 * @example
 * ```ts
 * const vault = createVault({ keyring: keys, store: memoryVaultStore() });
 * ```
 */
export function memoryVaultStore(options: MemoryVaultStoreOptions = {}): VaultStore {
  const name = validStoreName(options.name ?? 'default', 'memoryVaultStore');
  const secrets = new Map<string, Map<string, StoredSecret>>();
  const keys = new Map<string, StoredDataKey[]>();
  const tenantSecrets = (tenant: string): Map<string, StoredSecret> => {
    let map = secrets.get(tenant);
    if (!map) {
      map = new Map();
      secrets.set(tenant, map);
    }
    return map;
  };
  const copy = <T extends { envelope?: Uint8Array; wrapped?: Uint8Array }>(row: T): T => ({
    ...row,
    ...(row.envelope ? { envelope: row.envelope.slice() } : {}),
    ...(row.wrapped ? { wrapped: row.wrapped.slice() } : {}),
  });

  return {
    name,
    async getSecret(tenant, secretName) {
      const row = secrets.get(tenant)?.get(secretName);
      return row && copy(row);
    },
    async putSecret(tenant, secretName, envelope, dataKey) {
      const map = tenantSecrets(tenant);
      const now = new Date();
      const createdAt = map.get(secretName)?.createdAt ?? now;
      map.set(secretName, { tenant, name: secretName, envelope: envelope.slice(), dataKey, createdAt, updatedAt: now });
    },
    async deleteSecret(tenant, secretName) {
      return secrets.get(tenant)?.delete(secretName) ?? false;
    },
    async listSecrets(tenant) {
      const rows = [...(secrets.get(tenant)?.values() ?? [])].sort((a, b) => compare(a.name, b.name));
      return rows.map(({ envelope: _envelope, ...meta }) => meta);
    },
    async secretsBelow(tenant, generation, after, limit) {
      return [...(secrets.get(tenant)?.values() ?? [])]
        .filter((row) => row.dataKey < generation && (after === undefined || compare(row.name, after) > 0))
        .sort((a, b) => compare(a.name, b.name))
        .slice(0, limit)
        .map(copy);
    },
    async countSecretsBelow(tenant, generation) {
      let count = 0;
      for (const row of secrets.get(tenant)?.values() ?? []) if (row.dataKey < generation) count++;
      return count;
    },
    async replaceSecrets(tenant, replacements) {
      const map = secrets.get(tenant);
      const done: string[] = [];
      for (const r of replacements) {
        const row = map?.get(r.name);
        if (!row || !sameBytes(row.envelope, r.expected)) continue;
        map?.set(r.name, { ...row, envelope: r.envelope.slice(), dataKey: r.dataKey });
        done.push(r.name);
      }
      return done;
    },
    async dataKeys(tenant) {
      return (keys.get(tenant) ?? []).map(copy);
    },
    async insertDataKey(key) {
      const list = keys.get(key.tenant) ?? [];
      if (list.some((k) => k.generation === key.generation)) return false;
      list.push({ ...key, wrapped: key.wrapped.slice(), createdAt: new Date() });
      list.sort((a, b) => a.generation - b.generation);
      keys.set(key.tenant, list);
      return true;
    },
    async rewrapDataKey(tenant, generation, expected, wrapped, masterKeyId) {
      const key = keys.get(tenant)?.find((k) => k.generation === generation);
      if (!key || !sameBytes(key.wrapped, expected)) return false;
      key.wrapped = wrapped.slice();
      key.masterKeyId = masterKeyId;
      return true;
    },
    async scanDataKeys(after, limit) {
      const all = [...keys.entries()]
        .sort(([a], [b]) => compare(a, b))
        .flatMap(([, list]) => list)
        .filter(
          (k) =>
            after === undefined ||
            compare(k.tenant, after.tenant) > 0 ||
            (k.tenant === after.tenant && k.generation > after.generation),
        );
      return all.slice(0, limit).map(copy);
    },
  };
}

/**
 * UTF-16 code unit order: Postgres' COLLATE "C" (UTF-8 byte order) for every
 * name without characters above U+FFFF; self-consistent for the rest.
 */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
