/**
 * The vault's stored format: a self-describing, versioned envelope, and the
 * associated data that binds it to where it belongs.
 *
 * Layout of format version 1 (all lengths in bytes):
 *
 *     offset      size  field
 *     0           2     magic 0xBA 0x11
 *     2           1     format version (1)
 *     3           1     key id length L (1..64)
 *     4           L     key id, ASCII
 *     4+L         12    nonce (random per encryption)
 *     16+L        n     ciphertext (AES-256-GCM, n = plaintext length)
 *     16+L+n      16    GCM tag
 *
 * The associated data is the header (bytes 0 .. 4+L) followed by the binding:
 * `ballast.vault` 0x00, a purpose byte, then store, tenant and name, each as a
 * 2-byte big-endian length and UTF-8 bytes. A changed header, or the same
 * bytes read under another store, tenant or name, fails authentication.
 * @internal
 */
import { toBase64, utf8Length } from '../internal/encoding';
import { NONCE_BYTES, TAG_BYTES } from './crypto';
import { VaultError } from './errors';

export { toBase64, utf8Length };

/** First two bytes of every envelope. */
export const MAGIC = [0xba, 0x11] as const;
/** The format version this build writes. */
export const FORMAT_VERSION = 1;
/** Key ids: 1 to 64 of `A-Z a-z 0-9 . _ -`. */
export const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** What an envelope protects: a tenant's secret, or a tenant's wrapped data key. */
export type Purpose = 'secret' | 'data-key';

/** Where an envelope belongs; bound into its associated data. */
export interface Binding {
  purpose: Purpose;
  store: string;
  tenant: string;
  name: string;
}

/** The parts of a parsed envelope (views into the original bytes). */
export interface ParsedEnvelope {
  version: number;
  keyId: string;
  header: Uint8Array;
  nonce: Uint8Array;
  sealed: Uint8Array;
}

const encoder = new TextEncoder();
const LABEL = encoder.encode('ballast.vault\0');
const PURPOSE_BYTE: Record<Purpose, number> = { secret: 0x73, 'data-key': 0x6b };
const HEADER_FIXED = 4;
/** 1 for the ASCII bytes {@link KEY_ID} allows. */
const KEY_ID_BYTE = new Uint8Array(128);
for (let c = 0; c < 128; c++) if (KEY_ID.test(String.fromCharCode(c))) KEY_ID_BYTE[c] = 1;

/** Encodes the envelope header for a key id. */
export function encodeHeader(keyId: string): Uint8Array {
  const id = encoder.encode(keyId);
  const header = new Uint8Array(HEADER_FIXED + id.length);
  header[0] = MAGIC[0];
  header[1] = MAGIC[1];
  header[2] = FORMAT_VERSION;
  header[3] = id.length;
  header.set(id, HEADER_FIXED);
  return header;
}

/**
 * The part of the binding that is the same for every envelope of one purpose
 * in one store: the label, the purpose byte and the store name. A cipher
 * builds it once and passes it to {@link associatedDataWith}.
 */
export function bindingPrefix(purpose: Purpose, store: string): Uint8Array {
  const storeLength = utf8Length(store);
  const out = new Uint8Array(LABEL.length + 1 + 2 + storeLength);
  out.set(LABEL, 0);
  out[LABEL.length] = PURPOSE_BYTE[purpose];
  writeField(out, LABEL.length + 1, store, storeLength);
  return out;
}

/** Builds the associated data: the header, then the binding. */
export function associatedData(header: Uint8Array, binding: Binding): Uint8Array {
  return associatedDataWith(header, bindingPrefix(binding.purpose, binding.store), binding.tenant, binding.name);
}

/**
 * {@link associatedData} with the store part already built by
 * {@link bindingPrefix}. Runs on every encrypt and decrypt, so it writes
 * UTF-8 itself in one allocation (calling TextEncoder per field costs more
 * than the cipher on short secrets).
 */
export function associatedDataWith(header: Uint8Array, prefix: Uint8Array, tenant: string, name: string): Uint8Array {
  const tenantLength = utf8Length(tenant);
  const nameLength = utf8Length(name);
  const out = new Uint8Array(header.length + prefix.length + 4 + tenantLength + nameLength);
  out.set(header, 0);
  out.set(prefix, header.length);
  const at = writeField(out, header.length + prefix.length, tenant, tenantLength);
  writeField(out, at, name, nameLength);
  return out;
}

function writeField(out: Uint8Array, at: number, text: string, length: number): number {
  out[at++] = length >>> 8;
  out[at++] = length & 0xff;
  return writeUtf8(out, at, text);
}

/** Writes `text` as UTF-8 at `at`; returns the offset after it. Matches TextEncoder byte for byte. */
export function writeUtf8(out: Uint8Array, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[at++] = c;
    } else if (c < 0x800) {
      out[at++] = 0xc0 | (c >> 6);
      out[at++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && isLow(text.charCodeAt(i + 1))) {
      c = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
      out[at++] = 0xf0 | (c >> 18);
      out[at++] = 0x80 | ((c >> 12) & 0x3f);
      out[at++] = 0x80 | ((c >> 6) & 0x3f);
      out[at++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      out[at++] = 0xe0 | (c >> 12);
      out[at++] = 0x80 | ((c >> 6) & 0x3f);
      out[at++] = 0x80 | (c & 0x3f);
    }
  }
  return at;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Joins header, nonce and `ciphertext || tag` into one envelope. */
export function joinEnvelope(header: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array {
  const out = new Uint8Array(header.length + nonce.length + sealed.length);
  out.set(header, 0);
  out.set(nonce, header.length);
  out.set(sealed, header.length + nonce.length);
  return out;
}

/**
 * Splits an envelope into its parts, checking the magic, version and lengths.
 * @throws VaultError `malformed_envelope` or `unsupported_version`.
 */
export function parseEnvelope(bytes: Uint8Array, api: string): ParsedEnvelope {
  if (!(bytes instanceof Uint8Array) || bytes.length < HEADER_FIXED + 1 + NONCE_BYTES + TAG_BYTES) {
    throw new VaultError(api, 'malformed_envelope', 'the stored value is too short to be a vault envelope');
  }
  if (bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1]) {
    throw new VaultError(api, 'malformed_envelope', 'the stored value does not start with the vault envelope magic');
  }
  const version = bytes[2] as number;
  if (version !== FORMAT_VERSION) {
    throw new VaultError(
      api,
      'unsupported_version',
      `envelope format version ${version} is not supported (this build reads ${FORMAT_VERSION})`,
    );
  }
  const idLength = bytes[3] as number;
  const headerLength = HEADER_FIXED + idLength;
  if (idLength === 0 || bytes.length < headerLength + NONCE_BYTES + TAG_BYTES) {
    throw new VaultError(api, 'malformed_envelope', 'the envelope key id length does not fit the stored value');
  }
  // Byte by byte against the KEY_ID alphabet: no string is built for a bad id, and no regex runs per read.
  let keyId = '';
  for (let i = HEADER_FIXED; i < headerLength; i++) {
    const c = bytes[i] as number;
    if (c >= 0x80 || KEY_ID_BYTE[c] !== 1) {
      throw new VaultError(api, 'malformed_envelope', 'the envelope key id is not a valid key id');
    }
    keyId += String.fromCharCode(c);
  }
  return {
    version,
    keyId,
    header: bytes.subarray(0, headerLength),
    nonce: bytes.subarray(headerLength, headerLength + NONCE_BYTES),
    sealed: bytes.subarray(headerLength + NONCE_BYTES),
  };
}

/**
 * Decodes standard or URL-safe base64 (padding optional); `undefined` when the
 * text is not base64.
 */
export function fromBase64(text: string): Uint8Array | undefined {
  const normal = text.trim().replaceAll('-', '+').replaceAll('_', '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(normal) || normal.replace(/=+$/, '').length % 4 === 1) return undefined;
  const padded = normal.padEnd(Math.ceil(normal.length / 4) * 4, '=');
  try {
    const binary = atob(padded);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}
