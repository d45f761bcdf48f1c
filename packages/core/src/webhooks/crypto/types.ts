/**
 * The few primitives the schemes need, implemented twice: `node.ts` on
 * node:crypto and `web.ts` on Web Crypto. The package's `#crypto` import
 * picks one by export condition (`node` or `default`).
 *
 * Signed content is always passed as a short ASCII `prefix` plus the raw
 * `body`, so neither backend has to concatenate them in JavaScript when it can
 * feed the two parts to the hash separately.
 */

/** Hash functions offered for HMAC. */
export type HashAlgorithm = 'sha256' | 'sha512';

/** An imported HMAC key; opaque to callers. */
export interface HmacKey {
  readonly algorithm: HashAlgorithm;
}

/** An imported Ed25519 key (public for verifying, private for signing); opaque to callers. */
export interface Ed25519Key {
  readonly kind: 'public' | 'private';
}

/** The operations every backend implements. */
export interface CryptoBackend {
  /** Backend name, for tests and diagnostics. */
  readonly name: 'node' | 'web';
  /** Imports raw key bytes (or a string, used as its UTF-8 bytes) for HMAC. */
  hmacKey(secret: string | Uint8Array, algorithm: HashAlgorithm): HmacKey;
  /** HMAC of `prefix + body` (prefix as UTF-8, body as UTF-8 when a string). */
  hmac(key: HmacKey, prefix: string, body: string | Uint8Array): Uint8Array | Promise<Uint8Array>;
  /**
   * The same HMAC written as lower-case hex or padded standard base64, the way senders put it in
   * headers, so a signature can be compared without decoding it.
   */
  hmacText(
    key: HmacKey,
    prefix: string,
    body: string | Uint8Array,
    encoding: 'hex' | 'base64',
  ): string | Promise<string>;
  /** Constant-time equality; false at once when the lengths differ. */
  equal(a: Uint8Array, b: Uint8Array): boolean;
  /** SHA-256 of `body`. */
  sha256(body: string | Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** SHA-256 of the body (a string as UTF-8), in lower-case hex: the event id of schemes whose id is not signed. */
  sha256Hex(body: string | Uint8Array): string | Promise<string>;
  /** Imports a raw 32-byte Ed25519 public key; `undefined` when it is not one. */
  ed25519PublicKey(raw: Uint8Array): Ed25519Key | undefined;
  /** Imports a 32-byte Ed25519 seed as a private key; `undefined` when it is not one. */
  ed25519PrivateKey(seed: Uint8Array): Ed25519Key | undefined;
  /** Verifies an Ed25519 signature over `prefix + body`. */
  ed25519Verify(
    key: Ed25519Key,
    signature: Uint8Array,
    prefix: string,
    body: string | Uint8Array,
  ): boolean | Promise<boolean>;
  /** Signs `prefix + body` with Ed25519. */
  ed25519Sign(key: Ed25519Key, prefix: string, body: string | Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** The public key of a private key, raw 32 bytes. */
  ed25519PublicOf(key: Ed25519Key): Uint8Array | Promise<Uint8Array>;
}
