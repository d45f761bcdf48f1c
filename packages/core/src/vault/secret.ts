/**
 * `Secret`: a string that keeps itself out of logs, errors and serialized data.
 *
 * Importable on its own (no node:crypto, no vault), so any module that
 * carries a credential (auth headers, provider API keys) can hold it as a
 * `Secret` and call `.reveal()` only where the raw value is sent.
 */
import { VaultError } from './errors';

/** What every redacted form of a secret prints. */
export const REDACTED = '[redacted]';

const BRAND = Symbol.for('@ballast/secret');
const INSPECT = Symbol.for('nodejs.util.inspect.custom');
const encoder = new TextEncoder();

/**
 * A secret string value (an API key, a token, a password).
 *
 * Every way the value could slip into text prints `[redacted]`: `String(s)`,
 * template literals, `JSON.stringify`, `console.log` / `util.inspect`, and
 * error messages built from it. The value sits in a private field, so object
 * spread, `Object.keys` and `structuredClone` see nothing either. Only
 * {@link Secret.reveal} returns it.
 *
 * @example
 * ```ts
 * import { secret } from '@ballast/core/vault';
 * const key = secret('sk_test_123');
 * console.log(`using ${key}`); // using [redacted]
 * fetch(url, { headers: { authorization: `Bearer ${key.reveal()}` } });
 * ```
 */
export class Secret {
  readonly #value: string;
  /** @internal brand for cross-realm {@link isSecret} checks */
  readonly [BRAND] = true;

  private constructor(value: string) {
    this.#value = value;
    Object.freeze(this);
  }

  /**
   * Wraps a string as a secret.
   * @throws VaultError `invalid_secret` when `value` is not a non-empty string (the value is not echoed).
   */
  static from(value: string): Secret {
    if (typeof value !== 'string' || value.length === 0) {
      throw new VaultError(
        'secret',
        'invalid_secret',
        `a secret must be a non-empty string, got ${value === '' ? 'an empty string' : typeof value}`,
      );
    }
    return new Secret(value);
  }

  /** Returns the raw value. Call it only where the value leaves for its destination. */
  reveal(): string {
    return this.#value;
  }

  /**
   * Compares with another secret or string in time that depends only on the
   * lengths, not on where the values first differ.
   */
  equals(other: Secret | string): boolean {
    const theirs = typeof other === 'string' ? other : isSecret(other) ? other.reveal() : undefined;
    if (theirs === undefined) return false;
    return constantTimeEqual(encoder.encode(this.#value), encoder.encode(theirs));
  }

  /** The value's length in UTF-16 code units (safe to log). */
  get length(): number {
    return this.#value.length;
  }

  /** @returns `[redacted]` */
  toString(): string {
    return REDACTED;
  }

  /** @returns `[redacted]`, so `JSON.stringify` never writes the value. */
  toJSON(): string {
    return REDACTED;
  }

  /** @returns `[redacted]` for `String(s)`, template literals and `+`. */
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  /** Node's `util.inspect` / `console.log` form: `Secret([redacted])`. */
  [INSPECT](): string {
    return `Secret(${REDACTED})`;
  }

  /** @returns `Secret` for `Object.prototype.toString`. */
  get [Symbol.toStringTag](): string {
    return 'Secret';
  }
}

/**
 * Wraps a string as a {@link Secret}.
 * @throws VaultError `invalid_secret` when `value` is not a non-empty string.
 * @example
 * ```ts
 * const key = secret(config.stripeKey);
 * ```
 */
export function secret(value: string): Secret {
  return Secret.from(value);
}

/** True for a {@link Secret}, from any realm or copy of the package. */
export function isSecret(value: unknown): value is Secret {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[BRAND] === true &&
    typeof (value as { reveal?: unknown }).reveal === 'function'
  );
}

/** Returns the raw value of a {@link Secret}, or a plain string unchanged. */
export function revealSecret(value: Secret | string): string {
  return typeof value === 'string' ? value : value.reveal();
}

/**
 * Compares two byte arrays in time that depends only on their lengths.
 * @internal
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
