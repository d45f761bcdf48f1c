import { BallastError, type BallastErrorOptions, errorGuard } from '../errors';

/**
 * Why a vault operation failed.
 *
 * - `invalid_secret`: a value given as a secret is not a non-empty string.
 * - `invalid_argument`: a tenant, name, option or input is not valid.
 * - `malformed_key`: a key in the keyring configuration is not 32 bytes of base64, or its id is not valid.
 * - `key_missing`: a key id the configuration or a ciphertext names is not in the keyring.
 * - `key_retired`: a ciphertext still needs a key that the keyring lists as retired.
 * - `malformed_envelope`: stored bytes are not a vault envelope (truncated, bad magic, bad lengths).
 * - `unsupported_version`: an envelope declares a format version this build cannot read.
 * - `decrypt_failed`: authentication failed: the bytes were altered, or were moved to another tenant, name or store.
 * - `not_found`: no secret is stored under that tenant and name.
 * - `store_failed`: the store could not read or write (the cause is attached).
 * - `browser_unsupported`: the vault was imported under the `browser` condition.
 */
export type VaultErrorCode =
  | 'invalid_secret'
  | 'invalid_argument'
  | 'malformed_key'
  | 'key_missing'
  | 'key_retired'
  | 'malformed_envelope'
  | 'unsupported_version'
  | 'decrypt_failed'
  | 'not_found'
  | 'store_failed'
  | 'browser_unsupported';

/** Context carried by a {@link VaultError}. Never holds key material or plaintext. */
export interface VaultErrorContext extends BallastErrorOptions {
  /** The key id involved, when one is (never the key itself). */
  keyId?: string;
  /** The tenant involved, when one is. */
  tenant?: string;
  /** The secret's name, when one is involved. */
  secretName?: string;
}

/**
 * The error every vault API throws on purpose.
 *
 * Messages and fields name tenants, secret names and key ids, never key
 * material or secret values.
 */
export class VaultError extends BallastError<VaultErrorCode> {
  override readonly name = 'VaultError';
  /** The key id involved, when one is. */
  readonly keyId: string | undefined;
  /** The tenant involved, when one is. */
  readonly tenant: string | undefined;
  /** The secret's name, when one is involved. */
  readonly secretName: string | undefined;

  constructor(api: string, code: VaultErrorCode, message: string, context: VaultErrorContext = {}) {
    super(`@ballast/core] [${api}`, code, message, context.cause === undefined ? {} : { cause: context.cause });
    this.keyId = context.keyId;
    this.tenant = context.tenant;
    this.secretName = context.secretName;
  }
}

/** True for a {@link VaultError}, from any realm or copy of the package. */
export const isVaultError: (value: unknown) => value is VaultError = errorGuard<VaultError>('VaultError');
