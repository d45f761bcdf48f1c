import { type SqlClient, sqlNames } from '../stores/sql';
import { toBase64 } from './envelope';
import { VaultError } from './errors';
import {
  type SecretReplacement,
  type StoredDataKey,
  type StoredSecret,
  type VaultStore,
  validStoreName,
} from './store';

/** Options for {@link sqlVaultStore}. */
export interface SqlVaultStoreOptions {
  /**
   * Schema holding the vault tables (created by `migrate(db)`).
   * @default 'ballast'
   */
  schema?: string;
  /**
   * The store's name: one table can hold several named stores, and the name
   * is bound into every ciphertext.
   * @default 'default'
   */
  name?: string;
}

interface SecretRow {
  tenant: string;
  name: string;
  envelope: Uint8Array;
  data_key: number;
  created_at: Date;
  updated_at: Date;
}

interface DataKeyRow {
  tenant: string;
  generation: number;
  wrapped: Uint8Array;
  master_key_id: string;
  created_under: string;
  created_at: Date;
}

const API = 'sqlVaultStore';

/**
 * A vault store in Postgres or PGlite: tables `vault_secrets` and
 * `vault_data_keys` that hold envelopes (ciphertext) and metadata only.
 * Create them first with `migrate(db)` from `@ballast/core/stores/sql`.
 *
 * @example
 * ```ts
 * const db = await createPGlite();
 * await migrate(db, { modules: ['vault'] });
 * const vault = createVault({ keyring: keys, store: sqlVaultStore(db) });
 * ```
 */
export function sqlVaultStore(db: SqlClient, options: SqlVaultStoreOptions = {}): VaultStore {
  const names = sqlNames(options.schema);
  const store = validStoreName(options.name ?? 'default', API);
  const secrets = names.table('vault_secrets');
  const dataKeys = names.table('vault_data_keys');
  const run = async <Row>(what: string, text: string, params: readonly unknown[]): Promise<{ rows: Row[] }> => {
    try {
      return await db.query<Row>(text, params);
    } catch (cause) {
      throw new VaultError(API, 'store_failed', `could not ${what} (have the vault migrations run? see migrate())`, {
        cause,
      });
    }
  };
  const toSecret = (row: SecretRow): StoredSecret => ({
    tenant: row.tenant,
    name: row.name,
    envelope: bytes(row.envelope),
    dataKey: row.data_key,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
  const toDataKey = (row: DataKeyRow): StoredDataKey => ({
    tenant: row.tenant,
    generation: row.generation,
    wrapped: bytes(row.wrapped),
    masterKeyId: row.master_key_id,
    createdUnder: row.created_under,
    createdAt: row.created_at,
  });

  return {
    name: store,
    async getSecret(tenant, name) {
      const { rows } = await run<SecretRow>(
        'read a secret',
        `SELECT tenant, name, envelope, data_key, created_at, updated_at FROM ${secrets}
         WHERE store = $1 AND tenant = $2 AND name = $3`,
        [store, tenant, name],
      );
      return rows[0] && toSecret(rows[0]);
    },
    async putSecret(tenant, name, envelope, dataKey) {
      await run(
        'write a secret',
        `INSERT INTO ${secrets} (store, tenant, name, envelope, data_key) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (store, tenant, name)
         DO UPDATE SET envelope = EXCLUDED.envelope, data_key = EXCLUDED.data_key, updated_at = now()`,
        [store, tenant, name, envelope, dataKey],
      );
    },
    async deleteSecret(tenant, name) {
      const { rows } = await run(
        'delete a secret',
        `DELETE FROM ${secrets} WHERE store = $1 AND tenant = $2 AND name = $3 RETURNING name`,
        [store, tenant, name],
      );
      return rows.length > 0;
    },
    async listSecrets(tenant) {
      const { rows } = await run<Omit<SecretRow, 'envelope'>>(
        'list secrets',
        `SELECT tenant, name, data_key, created_at, updated_at FROM ${secrets}
         WHERE store = $1 AND tenant = $2 ORDER BY name`,
        [store, tenant],
      );
      return rows.map((row) => ({
        tenant: row.tenant,
        name: row.name,
        dataKey: row.data_key,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
      }));
    },
    async secretsBelow(tenant, generation, after, limit) {
      const { rows } = await run<SecretRow>(
        'scan secrets',
        `SELECT tenant, name, envelope, data_key, created_at, updated_at FROM ${secrets}
         WHERE store = $1 AND tenant = $2 AND data_key < $3 AND ($4::text IS NULL OR name > $4::text)
         ORDER BY name LIMIT $5`,
        [store, tenant, generation, after ?? null, limit],
      );
      return rows.map(toSecret);
    },
    async countSecretsBelow(tenant, generation) {
      const { rows } = await run<{ count: number }>(
        'count secrets',
        `SELECT count(*)::integer AS count FROM ${secrets} WHERE store = $1 AND tenant = $2 AND data_key < $3`,
        [store, tenant, generation],
      );
      return rows[0]?.count ?? 0;
    },
    async replaceSecrets(tenant, replacements: readonly SecretReplacement[]) {
      if (replacements.length === 0) return [];
      const { rows } = await run<{ name: string }>(
        'replace secrets',
        `UPDATE ${secrets} AS t SET envelope = decode(u.envelope, 'base64'), data_key = u.data_key
         FROM unnest($3::text[], $4::text[], $5::text[], $6::integer[]) AS u(name, expected, envelope, data_key)
         WHERE t.store = $1 AND t.tenant = $2 AND t.name = u.name AND t.envelope = decode(u.expected, 'base64')
         RETURNING t.name`,
        [
          store,
          tenant,
          replacements.map((r) => r.name),
          replacements.map((r) => toBase64(r.expected)),
          replacements.map((r) => toBase64(r.envelope)),
          replacements.map((r) => r.dataKey),
        ],
      );
      return rows.map((row) => row.name);
    },
    async dataKeys(tenant) {
      const { rows } = await run<DataKeyRow>(
        'read data keys',
        `SELECT tenant, generation, wrapped, master_key_id, created_under, created_at FROM ${dataKeys}
         WHERE store = $1 AND tenant = $2 ORDER BY generation`,
        [store, tenant],
      );
      return rows.map(toDataKey);
    },
    async insertDataKey(key) {
      const { rows } = await run(
        'write a data key',
        `INSERT INTO ${dataKeys} (store, tenant, generation, wrapped, master_key_id, created_under)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING generation`,
        [store, key.tenant, key.generation, key.wrapped, key.masterKeyId, key.createdUnder],
      );
      return rows.length > 0;
    },
    async rewrapDataKey(tenant, generation, expected, wrapped, masterKeyId) {
      const { rows } = await run(
        're-wrap a data key',
        `UPDATE ${dataKeys} SET wrapped = $5, master_key_id = $6
         WHERE store = $1 AND tenant = $2 AND generation = $3 AND wrapped = $4 RETURNING generation`,
        [store, tenant, generation, expected, wrapped, masterKeyId],
      );
      return rows.length > 0;
    },
    async scanDataKeys(after, limit) {
      const { rows } = await run<DataKeyRow>(
        'scan data keys',
        `SELECT tenant, generation, wrapped, master_key_id, created_under, created_at FROM ${dataKeys}
         WHERE store = $1 AND ($2::text IS NULL OR (tenant, generation) > ($2::text, $3::integer))
         ORDER BY tenant, generation LIMIT $4`,
        [store, after?.tenant ?? null, after?.generation ?? 0, limit],
      );
      return rows.map(toDataKey);
    },
  };
}

/** A driver's bytea value as a plain Uint8Array view. */
function bytes(value: Uint8Array): Uint8Array {
  return value instanceof Uint8Array && value.constructor === Uint8Array
    ? value
    : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}
