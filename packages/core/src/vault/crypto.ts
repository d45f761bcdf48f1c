/**
 * The small AES-256-GCM interface the vault is written against. Two
 * implementations are picked by export condition through the package's
 * `#vault-crypto` import: node:crypto on Node, Web Crypto everywhere else.
 * @internal
 */

/** An imported 256-bit key, opaque to the vault (a `KeyObject` or a `CryptoKey`). */
export interface AeadKey {
  readonly kind: 'aes-256-gcm';
}

/** AES-256-GCM with 96-bit nonces and 128-bit tags. */
export interface VaultCrypto {
  /** Which implementation this is. */
  readonly backend: 'node' | 'web';
  /** Imports 32 raw key bytes. */
  importKey(raw: Uint8Array): Promise<AeadKey>;
  /** Fills a new array with `length` cryptographically random bytes. */
  randomBytes(length: number): Uint8Array;
  /**
   * Encrypts and returns `ciphertext || tag` (tag last, 16 bytes). Synchronous
   * where the platform allows (node:crypto), so the hot path skips a tick.
   */
  seal(key: AeadKey, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** Decrypts `ciphertext || tag`; gives `undefined` when authentication fails. */
  open(
    key: AeadKey,
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array,
  ): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Standard base64 of bytes. */
  toBase64(bytes: Uint8Array): string;
  /** Decodes standard base64 leniently (a bad envelope then fails authentication). */
  fromBase64(text: string): Uint8Array;
}

/** Bytes in an AES-256 key. */
export const KEY_BYTES = 32;
/** Bytes in a GCM nonce (96 bits). */
export const NONCE_BYTES = 12;
/** Bytes in a GCM tag (128 bits). */
export const TAG_BYTES = 16;
