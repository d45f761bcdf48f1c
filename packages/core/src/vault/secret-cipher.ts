/**
 * Encrypting and decrypting secret envelopes with tenant data keys, bound to
 * store, tenant and name. Synchronous whenever the key is cached and the
 * crypto is (node:crypto), so the steady state adds no ticks.
 * @internal
 */
import { type AeadKey, NONCE_BYTES, type VaultCrypto } from './crypto';
import { type CurrentKey, type DataKeys, dataKeyGeneration } from './data-keys';
import { associatedDataWith, bindingPrefix, joinEnvelope, type ParsedEnvelope, parseEnvelope } from './envelope';
import { VaultError } from './errors';
import { shownKeyId } from './keyring';

/** An envelope and the data key generation that made it. */
export interface Sealed {
  envelope: Uint8Array;
  generation: number;
}

/** Secret envelopes of one vault. */
export interface SecretCipher {
  /** Encrypts with the tenant's current data key. */
  seal(tenant: string, name: string, plaintext: Uint8Array, api: string): Sealed | Promise<Sealed>;
  /** Encrypts with a given data key, whose envelope header is `header`. */
  sealWith(
    key: AeadKey,
    header: Uint8Array,
    tenant: string,
    name: string,
    plaintext: Uint8Array,
  ): Uint8Array | Promise<Uint8Array>;
  /** Decrypts an envelope read for a tenant and name; the caller zeroes the result. */
  open(tenant: string, name: string, envelope: Uint8Array, api: string): Uint8Array | Promise<Uint8Array>;
}

/** Builds the secret cipher of one vault. */
export function secretCipher(crypto: VaultCrypto, keys: DataKeys, storeName: string): SecretCipher {
  // The label, purpose and store part of every secret's associated data, built once.
  const prefix = bindingPrefix('secret', storeName);
  const sealWith = (
    key: AeadKey,
    header: Uint8Array,
    tenant: string,
    name: string,
    plaintext: Uint8Array,
  ): Uint8Array | Promise<Uint8Array> => {
    const nonce = crypto.randomBytes(NONCE_BYTES);
    const aad = associatedDataWith(header, prefix, tenant, name);
    const sealed = crypto.seal(key, nonce, plaintext, aad);
    return sealed instanceof Promise
      ? sealed.then((bytes) => joinEnvelope(header, nonce, bytes))
      : joinEnvelope(header, nonce, sealed);
  };

  const openWith = (
    key: AeadKey,
    parsed: ParsedEnvelope,
    tenant: string,
    name: string,
    api: string,
  ): Uint8Array | Promise<Uint8Array> => {
    const aad = associatedDataWith(parsed.header, prefix, tenant, name);
    const opened = crypto.open(key, parsed.nonce, parsed.sealed, aad);
    if (opened instanceof Promise) {
      return opened.then((plaintext) => authentic(plaintext, parsed.keyId, tenant, name, api));
    }
    return authentic(opened, parsed.keyId, tenant, name, api);
  };

  const sealCurrent = (
    current: CurrentKey,
    tenant: string,
    name: string,
    plaintext: Uint8Array,
  ): Sealed | Promise<Sealed> => {
    const envelope = sealWith(current.key, current.header, tenant, name, plaintext);
    return envelope instanceof Promise
      ? envelope.then((bytes) => ({ envelope: bytes, generation: current.generation }))
      : { envelope, generation: current.generation };
  };

  return {
    seal(tenant, name, plaintext, api) {
      const current = keys.current(tenant, api);
      if (current instanceof Promise) return current.then((c) => sealCurrent(c, tenant, name, plaintext));
      return sealCurrent(current, tenant, name, plaintext);
    },
    sealWith,
    open(tenant, name, envelope, api) {
      const parsed = parseEnvelope(envelope, api);
      const generation = dataKeyGeneration(parsed.keyId);
      if (generation === undefined) {
        throw new VaultError(
          api,
          'malformed_envelope',
          `envelope key id ${shownKeyId(parsed.keyId)} is not a tenant data key id`,
          {
            tenant,
            secretName: name,
          },
        );
      }
      const key = keys.cached(tenant, generation);
      if (key) return openWith(key, parsed, tenant, name, api);
      return keys.get(tenant, generation, api).then((loaded) => openWith(loaded, parsed, tenant, name, api));
    },
  };
}

/** Returns the plaintext, or throws `decrypt_failed` when authentication failed. */
function authentic(
  plaintext: Uint8Array | undefined,
  keyId: string,
  tenant: string,
  name: string,
  api: string,
): Uint8Array {
  if (plaintext) return plaintext;
  throw new VaultError(
    api,
    'decrypt_failed',
    `secret ${name} of tenant ${tenant} failed authentication: it was altered, or belongs to another tenant, name or store`,
    { tenant, secretName: name, keyId },
  );
}
