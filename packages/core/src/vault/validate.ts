/**
 * Argument checks shared by the vault's APIs; each failure is a typed
 * `VaultError` that never echoes the value.
 * @internal
 */
import { VaultError } from './errors';
import { isSecret, type Secret } from './secret';

/** Longest tenant or secret name, in UTF-16 code units. */
export const MAX_LABEL = 256;

/** Checks a tenant and (when given) a secret name: strings of 1-256 characters. */
export function checkLabels(tenant: string, name: string | undefined, api: string): void {
  if (!validLabel(tenant)) throw badLabel('tenant', api);
  if (name !== undefined && !validLabel(name)) throw badLabel('name', api);
}

function validLabel(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_LABEL;
}

function badLabel(label: string, api: string): VaultError {
  return new VaultError(api, 'invalid_argument', `${label} must be a string of 1-${MAX_LABEL} characters`);
}

/** The text of a value given to put/encrypt: a non-empty string or a Secret. */
export function plainText(value: Secret | string, api: string): string {
  const text = isSecret(value) ? value.reveal() : value;
  if (typeof text !== 'string' || text.length === 0) {
    const got = text === '' ? 'an empty string' : typeof text;
    throw new VaultError(api, 'invalid_secret', `a secret must be a Secret or a non-empty string, got ${got}`);
  }
  return text;
}

/** A finite number >= 0. */
export function nonNegative(value: number, option: string, api: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new VaultError(api, 'invalid_argument', `${option} must be a finite number >= 0`);
  }
  return value;
}

/** A positive safe integer. */
export function positiveInt(value: number, option: string, api: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new VaultError(api, 'invalid_argument', `${option} must be a positive integer`);
  }
  return value;
}
