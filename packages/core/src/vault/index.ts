/**
 * `@ballast/core/vault`: encrypted per-tenant secrets, and the `Secret` type
 * that keeps credentials out of logs. Server-only: under the `browser`
 * condition this entry throws.
 *
 * Not exported: the envelope codec and the crypto implementations (internal,
 * the layout is documented in docs/vault.md).
 */

export { createVault } from './create-vault';
export { dataKeyId } from './data-keys';
export type { VaultErrorCode, VaultErrorContext } from './errors';
export { isVaultError, VaultError } from './errors';
export type { Keyring, KeyringConfig } from './keyring';
export { isKeyring, keyring } from './keyring';
export type { MemoryVaultStoreOptions } from './memory-store';
export { memoryVaultStore } from './memory-store';
export type { KeyExposure, KeyStatus, RotateOptions, RotationFailure, RotationProgress } from './rotation';
export { isSecret, REDACTED, revealSecret, Secret, secret } from './secret';
export type { SqlVaultStoreOptions } from './sql-store';
export { sqlVaultStore } from './sql-store';
export type { SecretReplacement, StoredDataKey, StoredSecret, VaultStore } from './store';
export type {
  MoveSecretsOptions,
  MoveSecretsResult,
  SecretsVault,
  StoredSecretInfo,
  SupabaseVault,
  SupabaseVaultOptions,
} from './supabase';
export { moveSecrets, supabaseVault } from './supabase';
export type { SecretInfo, Vault, VaultOptions } from './vault';
