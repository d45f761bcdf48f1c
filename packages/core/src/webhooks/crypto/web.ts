import { toBase64, toHex } from '../../internal/encoding';
import type { CryptoBackend, Ed25519Key, HashAlgorithm, HmacKey } from './types';

/**
 * The Web Crypto backend for Deno, Bun, Workers and browsers: every operation
 * is asynchronous, and the CryptoKey is imported once per key and reused.
 */

interface WebHmacKey extends HmacKey {
  readonly raw: Uint8Array<ArrayBuffer>;
  imported?: Promise<CryptoKey>;
}
interface WebEd25519Key extends Ed25519Key {
  readonly raw: Uint8Array<ArrayBuffer>;
  imported?: Promise<CryptoKey>;
  publicRaw?: Uint8Array;
}

const HASH = { sha256: 'SHA-256', sha512: 'SHA-512' } as const;
const encoder = new TextEncoder();
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}

function message(prefix: string, body: string | Uint8Array): Uint8Array<ArrayBuffer> {
  if (typeof body === 'string') return encoder.encode(prefix + body);
  const head = encoder.encode(prefix);
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

function hmacCryptoKey(key: WebHmacKey): Promise<CryptoKey> {
  key.imported ??= crypto.subtle.importKey('raw', key.raw, { name: 'HMAC', hash: HASH[key.algorithm] }, false, [
    'sign',
  ]);
  return key.imported;
}

function edCryptoKey(key: WebEd25519Key): Promise<CryptoKey> {
  if (!key.imported) {
    if (key.kind === 'public') {
      key.imported = crypto.subtle.importKey('raw', key.raw, { name: 'Ed25519' }, true, ['verify']);
    } else {
      const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + key.raw.length);
      pkcs8.set(PKCS8_PREFIX, 0);
      pkcs8.set(key.raw, PKCS8_PREFIX.length);
      key.imported = crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']);
    }
  }
  return key.imported;
}

/** Web Crypto implementation of {@link CryptoBackend}. */
export const backend: CryptoBackend = {
  name: 'web',
  hmacKey(secret: string | Uint8Array, algorithm: HashAlgorithm): HmacKey {
    const raw = typeof secret === 'string' ? encoder.encode(secret) : copy(secret);
    const key: WebHmacKey = { algorithm, raw };
    return key;
  },
  async hmac(key, prefix, body) {
    const cryptoKey = await hmacCryptoKey(key as WebHmacKey);
    return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, message(prefix, body)));
  },
  async hmacText(key, prefix, body, encoding) {
    const mac = await this.hmac(key, prefix, body);
    return encoding === 'hex' ? toHex(mac) : toBase64(mac);
  },
  equal(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
    return diff === 0;
  },
  async sha256Hex(body) {
    return toHex(await this.sha256(body));
  },
  async sha256(body) {
    const bytes = typeof body === 'string' ? encoder.encode(body) : copy(body);
    return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  },
  ed25519PublicKey(raw) {
    if (raw.length !== 32) return undefined;
    const key: WebEd25519Key = { kind: 'public', raw: copy(raw) };
    return key;
  },
  ed25519PrivateKey(seed) {
    if (seed.length !== 32) return undefined;
    const key: WebEd25519Key = { kind: 'private', raw: copy(seed) };
    return key;
  },
  async ed25519Verify(key, signature, prefix, body) {
    try {
      const cryptoKey = await edCryptoKey(key as WebEd25519Key);
      return await crypto.subtle.verify('Ed25519', cryptoKey, copy(signature), message(prefix, body));
    } catch {
      return false;
    }
  },
  async ed25519Sign(key, prefix, body) {
    const cryptoKey = await edCryptoKey(key as WebEd25519Key);
    return new Uint8Array(await crypto.subtle.sign('Ed25519', cryptoKey, message(prefix, body)));
  },
  async ed25519PublicOf(key) {
    const k = key as WebEd25519Key;
    if (!k.publicRaw) {
      const jwk = await crypto.subtle.exportKey('jwk', await edCryptoKey(k));
      const x = (jwk.x ?? '').replace(/-/g, '+').replace(/_/g, '/');
      k.publicRaw = Uint8Array.from(atob(x), (c) => c.charCodeAt(0));
    }
    return k.publicRaw;
  },
};
