/**
 * node:crypto implementation of {@link VaultCrypto}, selected by the `node`
 * condition of the package's `#vault-crypto` import.
 * @internal
 */
import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { type AeadKey, TAG_BYTES, type VaultCrypto } from './crypto';

/**
 * The key as a private Buffer copy: node:crypto sets up a cipher from raw
 * bytes measurably faster than from a `KeyObject` (see docs/decisions).
 */
interface NodeKey extends AeadKey {
  readonly key: Buffer;
}

const ALGORITHM = 'aes-256-gcm';

const POOL_BYTES = 4096;
const POOLED_MAX = 32;
let pool = new Uint8Array(0);
let poolAt = 0;

/**
 * Random bytes from the CSPRNG. Small draws (nonces, keys) come from a 4 KB
 * buffer refilled by one `randomFillSync` call, which costs far less than a
 * call per draw; every byte is handed out once and the buffer is never shared.
 */
function randomBytes(length: number): Uint8Array {
  if (length > POOLED_MAX) return randomFillSync(new Uint8Array(length));
  if (poolAt + length > pool.length) {
    pool = randomFillSync(new Uint8Array(POOL_BYTES));
    poolAt = 0;
  }
  const out = pool.slice(poolAt, poolAt + length);
  pool.fill(0, poolAt, poolAt + length);
  poolAt += length;
  return out;
}

/** AES-256-GCM through node:crypto. */
export const vaultCrypto: VaultCrypto = {
  backend: 'node',
  importKey: async (raw) => ({ kind: 'aes-256-gcm', key: Buffer.from(raw) }) satisfies NodeKey,
  randomBytes,
  toBase64: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64'),
  fromBase64: (text) => Buffer.from(text, 'base64'),
  seal(key, nonce, plaintext, aad) {
    const cipher = createCipheriv(ALGORITHM, (key as NodeKey).key, nonce);
    cipher.setAAD(aad);
    const head = cipher.update(plaintext);
    const tail = cipher.final();
    const tag = cipher.getAuthTag();
    const out = new Uint8Array(head.length + tail.length + tag.length);
    out.set(head, 0);
    out.set(tail, head.length);
    out.set(tag, head.length + tail.length);
    return out;
  },
  open(key, nonce, sealed, aad) {
    if (sealed.length < TAG_BYTES) return undefined;
    const split = sealed.length - TAG_BYTES;
    const decipher = createDecipheriv(ALGORITHM, (key as NodeKey).key, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(split));
    const head = decipher.update(sealed.subarray(0, split));
    try {
      const tail = decipher.final();
      if (tail.length === 0) return head;
      const out = new Uint8Array(head.length + tail.length);
      out.set(head, 0);
      out.set(tail, head.length);
      return out;
    } catch {
      head.fill(0);
      return undefined;
    }
  },
};
