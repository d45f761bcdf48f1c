/**
 * Web Crypto implementation of {@link VaultCrypto}, for runtimes without
 * node:crypto (Deno, Workers, Bun's web path); selected by the default
 * condition of the package's `#vault-crypto` import.
 * @internal
 */
import { type AeadKey, TAG_BYTES, type VaultCrypto } from './crypto';
import { fromBase64, toBase64 } from './envelope';

interface WebKey extends AeadKey {
  readonly key: CryptoKey;
}

const ALGORITHM = 'AES-GCM';

/** AES-256-GCM through `globalThis.crypto.subtle`. */
export const vaultCrypto: VaultCrypto = {
  backend: 'web',
  async importKey(raw) {
    const key = await crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, ALGORITHM, false, [
      'encrypt',
      'decrypt',
    ]);
    return { kind: 'aes-256-gcm', key } satisfies WebKey;
  },
  randomBytes: (length) => crypto.getRandomValues(new Uint8Array(length)),
  toBase64,
  fromBase64: (text) => fromBase64(text) ?? new Uint8Array(0),
  async seal(key, nonce, plaintext, aad) {
    const params = { name: ALGORITHM, iv: nonce, additionalData: aad, tagLength: TAG_BYTES * 8 } as AesGcmParams;
    return new Uint8Array(
      await crypto.subtle.encrypt(params, (key as WebKey).key, plaintext as Uint8Array<ArrayBuffer>),
    );
  },
  async open(key, nonce, sealed, aad) {
    const params = { name: ALGORITHM, iv: nonce, additionalData: aad, tagLength: TAG_BYTES * 8 } as AesGcmParams;
    try {
      return new Uint8Array(
        await crypto.subtle.decrypt(params, (key as WebKey).key, sealed as Uint8Array<ArrayBuffer>),
      );
    } catch {
      return undefined;
    }
  },
};
