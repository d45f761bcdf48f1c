import { vaultCrypto } from '#vault-crypto';
import { createVaultWith, type Vault, type VaultOptions } from './vault';

/**
 * Creates a vault: per-tenant secrets encrypted with AES-256-GCM under
 * per-tenant data keys, which the master keyring wraps.
 *
 * Validates the keyring and options at once, so a missing or malformed master
 * key fails at startup. Runs on node:crypto under Node and on Web Crypto
 * elsewhere (picked by export condition); server-only.
 *
 * @throws VaultError `key_missing`, `malformed_key` or `invalid_argument` for bad configuration.
 * @example
 * ```ts
 * import { createVault, keyring, sqlVaultStore } from '@ballast/core/vault';
 * const vault = createVault({ keyring: keyring(config.vaultKeys), store: sqlVaultStore(db) });
 * await vault.put('acme', 'stripe', 'sk_live_...');
 * const key = await vault.get('acme', 'stripe'); // Secret: key.reveal() where it is sent
 * ```
 */
export function createVault(options: VaultOptions): Vault {
  return createVaultWith(vaultCrypto, options);
}
