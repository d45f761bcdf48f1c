/**
 * Supabase Vault (the `supabase_vault` extension) behind the same get / put /
 * delete / list surface as Ballast's own vault, and moves between the two.
 * Server-only, like the rest of this entry: under the `browser` condition the
 * vault entry throws on import.
 */
import { isStoreError } from '../stores/errors';
import type { SqlClient, SqlExecutor } from '../stores/sql';
import { VaultError } from './errors';
import { Secret } from './secret';
import { checkLabels, plainText } from './validate';

/** What a secrets API tells about one stored secret: never its value. */
export interface StoredSecretInfo {
  /** The secret's name within its tenant. */
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The surface Ballast's vault (`createVault`) and {@link supabaseVault} share:
 * per-tenant named secrets, read back as {@link Secret}.
 */
export interface SecretsVault {
  /** Stores a secret, replacing any under the same tenant and name. */
  put(tenant: string, name: string, value: Secret | string): Promise<void>;
  /** Reads a secret. @throws VaultError `not_found` when none is stored. */
  get(tenant: string, name: string): Promise<Secret>;
  /** Deletes a secret; true when it existed. */
  delete(tenant: string, name: string): Promise<boolean>;
  /** A tenant's secrets: names and times, never values. */
  list(tenant: string): Promise<StoredSecretInfo[]>;
}

/** Options of {@link supabaseVault}. */
export interface SupabaseVaultOptions {
  /**
   * The first segment of every name this vault writes in `vault.secrets`, so
   * that Ballast's secrets stay apart from the project's other Vault secrets.
   * Letters, digits, `_` and `-`.
   * @default 'ballast'
   */
  prefix?: string;
}

/** Supabase Vault as a {@link SecretsVault}, plus the tenants it holds. */
export interface SupabaseVault extends SecretsVault {
  /** Every tenant with at least one secret under this vault's prefix. */
  tenants(): Promise<string[]>;
  /** The `vault.secrets.name` a tenant and name are stored under. */
  secretName(tenant: string, name: string): string;
}

const API = 'supabaseVault';
const PREFIX = /^[A-Za-z0-9_-]{1,64}$/;
const UNIQUE_VIOLATION = '23505';

function storeFailed(api: string, error: unknown): VaultError {
  if (error instanceof VaultError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const hint =
    code === '42501'
      ? ': permission denied (the role needs USAGE on schema vault, SELECT and DELETE on vault.secrets and vault.decrypted_secrets, EXECUTE on vault.create_secret and vault.update_secret)'
      : code === '42P01' || code === '3F000'
        ? ': the supabase_vault extension is not installed in this database'
        : isStoreError(error)
          ? `: ${error.message}`
          : '';
  return new VaultError(api, 'store_failed', `Supabase Vault could not complete the call${hint}`, { cause: error });
}

async function guarded<T>(api: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw storeFailed(api, error);
  }
}

/**
 * Supabase Vault over a SQL connection (PGlite cannot load the extension; use
 * `createPostgres` or `createPostgresJs` with the project's database URL).
 *
 * Naming: a tenant and name are stored as one `vault.secrets.name`,
 * `<prefix>/<tenant>/<name>` with tenant and name percent-encoded
 * (`encodeURIComponent`), so a `/` inside either cannot collide with the
 * separator; the description is left empty. Writes go through
 * `vault.create_secret` and `vault.update_secret`, reads through
 * `vault.decrypted_secrets`: the connecting role needs the grants Supabase
 * gives `postgres` and `service_role`, and never `anon` or `authenticated`.
 *
 * What Supabase Vault does and does not protect against, compared with
 * `createVault`, is in docs/vault.md.
 *
 * @example
 * ```ts
 * const secrets = supabaseVault(await createPostgresJs(databaseUrl));
 * await secrets.put('acme', 'stripe_secret_key', 'sk_live_…');
 * const key = await secrets.get('acme', 'stripe_secret_key'); // Secret
 * ```
 */
export function supabaseVault(db: SqlClient, options: SupabaseVaultOptions = {}): SupabaseVault {
  if (typeof db?.query !== 'function' || typeof db.transaction !== 'function') {
    throw new VaultError(API, 'invalid_argument', 'db must be a SqlClient (createPostgres, createPostgresJs, ...)');
  }
  const prefix = options.prefix ?? 'ballast';
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new VaultError(API, 'invalid_argument', 'prefix must be 1-64 letters, digits, _ or -');
  }
  const tenantPrefix = (tenant: string) => `${prefix}/${encodeURIComponent(tenant)}/`;
  const secretName = (tenant: string, name: string) => `${tenantPrefix(tenant)}${encodeURIComponent(name)}`;

  async function update(tx: SqlExecutor, stored: string, value: string): Promise<boolean> {
    const res = await tx.query<{ id: string }>(
      'SELECT s.id, vault.update_secret(s.id, $2) FROM vault.secrets s WHERE s.name = $1',
      [stored, value],
    );
    return res.rows.length > 0;
  }

  return {
    secretName(tenant, name) {
      checkLabels(tenant, name, `${API}.secretName`);
      return secretName(tenant, name);
    },

    async put(tenant, name, value) {
      const api = `${API}.put`;
      checkLabels(tenant, name, api);
      const text = plainText(value, api);
      const stored = secretName(tenant, name);
      await guarded(api, async () => {
        if (await update(db, stored, text)) return;
        try {
          await db.query('SELECT vault.create_secret($1, $2)', [text, stored]);
        } catch (error) {
          // another writer created it between the two statements: replace its value
          if ((error as { code?: unknown } | null)?.code !== UNIQUE_VIOLATION) throw error;
          if (!(await update(db, stored, text))) throw error;
        }
      });
    },

    async get(tenant, name) {
      const api = `${API}.get`;
      checkLabels(tenant, name, api);
      const res = await guarded(api, () =>
        db.query<{ decrypted_secret: string | null }>(
          'SELECT decrypted_secret FROM vault.decrypted_secrets WHERE name = $1',
          [secretName(tenant, name)],
        ),
      );
      const row = res.rows[0];
      if (row === undefined) throw new VaultError(api, 'not_found', 'no secret is stored under that tenant and name');
      if (typeof row.decrypted_secret !== 'string') {
        throw new VaultError(api, 'decrypt_failed', 'Supabase Vault could not decrypt the stored secret');
      }
      return Secret.from(row.decrypted_secret);
    },

    async delete(tenant, name) {
      const api = `${API}.delete`;
      checkLabels(tenant, name, api);
      const res = await guarded(api, () =>
        db.query('DELETE FROM vault.secrets WHERE name = $1', [secretName(tenant, name)]),
      );
      return res.rowCount > 0;
    },

    async list(tenant) {
      const api = `${API}.list`;
      checkLabels(tenant, undefined, api);
      const start = tenantPrefix(tenant);
      const res = await guarded(api, () =>
        db.query<{ name: string; created_at: Date; updated_at: Date }>(
          'SELECT name, created_at, updated_at FROM vault.secrets WHERE starts_with(name, $1) ORDER BY name',
          [start],
        ),
      );
      return res.rows.map((r) => ({
        name: decodeURIComponent(r.name.slice(start.length)),
        createdAt: new Date(r.created_at),
        updatedAt: new Date(r.updated_at),
      }));
    },

    async tenants() {
      const api = `${API}.tenants`;
      const res = await guarded(api, () =>
        db.query<{ tenant: string }>(
          `SELECT DISTINCT split_part(substr(name, $2), '/', 1) AS tenant
             FROM vault.secrets WHERE starts_with(name, $1) ORDER BY 1`,
          [`${prefix}/`, prefix.length + 2],
        ),
      );
      return res.rows.map((r) => decodeURIComponent(r.tenant));
    },
  };
}

/** Options of {@link moveSecrets}. */
export interface MoveSecretsOptions {
  /** Where the secrets are read. */
  from: SecretsVault;
  /** Where they are written (an existing secret of the same tenant and name is replaced). */
  to: SecretsVault;
  /** The tenants to move. */
  tenants: readonly string[];
  /**
   * Delete each secret from `from` once `to` holds it (a move rather than a copy).
   * @default false
   */
  deleteFromSource?: boolean;
}

/** What {@link moveSecrets} did. */
export interface MoveSecretsResult {
  /** Secrets written to `to`, as `tenant/name` pairs. */
  moved: Array<{ tenant: string; name: string }>;
}

/**
 * Copies (or moves) every secret of the given tenants from one secrets vault
 * to another: from Supabase Vault into Ballast's vault for its tenant binding
 * and rotation, or back. Each value is read and written as a {@link Secret},
 * never logged; a secret is deleted from the source only after the target
 * holds it, so an interrupted move leaves each secret in at least one place
 * and can simply be run again.
 */
export async function moveSecrets(options: MoveSecretsOptions): Promise<MoveSecretsResult> {
  const api = 'moveSecrets';
  const { from, to, tenants } = options ?? ({} as MoveSecretsOptions);
  for (const [label, v] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (typeof v?.get !== 'function' || typeof v.put !== 'function' || typeof v.list !== 'function') {
      throw new VaultError(api, 'invalid_argument', `${label} must be a vault (createVault or supabaseVault)`);
    }
  }
  if (!Array.isArray(tenants)) throw new VaultError(api, 'invalid_argument', 'tenants must be an array of strings');
  const moved: MoveSecretsResult['moved'] = [];
  for (const tenant of tenants) {
    checkLabels(tenant, undefined, api);
    for (const { name } of await from.list(tenant)) {
      await to.put(tenant, name, await from.get(tenant, name));
      if (options.deleteFromSource === true) await from.delete(tenant, name);
      moved.push({ tenant, name });
    }
  }
  return { moved };
}
