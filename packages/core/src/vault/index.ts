/**
 * `@ballast/core/vault`: encrypted per-tenant secrets, and the `Secret` type
 * that keeps credentials out of logs.
 */

export type { VaultErrorCode, VaultErrorContext } from './errors';
export { isVaultError, VaultError } from './errors';
export { isSecret, REDACTED, revealSecret, Secret, secret } from './secret';
