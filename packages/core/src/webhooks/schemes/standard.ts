import { backend } from '#crypto';
import type { Ed25519Key, HmacKey } from '../crypto/types';
import { fromBase64, toBase64 } from '../encoding';
import {
  cachedKey,
  checkSecretShape,
  parseUnixSeconds,
  requireHeader,
  type SchemeRequest,
  type SchemeSignRequest,
  type SchemeVerdict,
  schemeError,
  type WebhookScheme,
} from '../scheme';

/**
 * A Standard Webhooks secret, decoded: `whsec_<base64>` (or bare base64, as the reference
 * libraries accept) is an HMAC key for `v1`; `whpk_<base64>` an Ed25519 public key for `v1a`;
 * `whsk_<base64>` an Ed25519 private key, for signing only.
 */
type StandardKey =
  | { kind: 'hmac'; key: HmacKey }
  | { kind: 'public'; key: Ed25519Key }
  | { kind: 'private'; key: Ed25519Key };

function decodeKey(scheme: string, secret: string): StandardKey {
  checkSecretShape(scheme, secret);
  const bad = (why: string) => schemeError(scheme, 'invalid_secret', why);
  if (secret.startsWith('whpk_')) {
    const raw = fromBase64(secret.slice(5));
    const key = raw && backend.ed25519PublicKey(raw);
    if (!key) throw bad('a whpk_ public key must be the base64 of 32 bytes');
    return { kind: 'public', key };
  }
  if (secret.startsWith('whsk_')) {
    const raw = fromBase64(secret.slice(5));
    // a 32-byte seed, or the 64-byte seed || public key form
    const key =
      raw && (raw.length === 32 || raw.length === 64) ? backend.ed25519PrivateKey(raw.subarray(0, 32)) : undefined;
    if (!key) throw bad('a whsk_ private key must be the base64 of a 32-byte seed (or 64-byte seed and public key)');
    return { kind: 'private', key };
  }
  const raw = fromBase64(secret.startsWith('whsec_') ? secret.slice(6) : secret);
  if (!raw || raw.length === 0) throw bad('a Standard Webhooks secret is whsec_ followed by base64');
  return { kind: 'hmac', key: backend.hmacKey(raw, 'sha256') };
}

interface Signatures {
  v1: Uint8Array[];
  v1a: Uint8Array[];
}

/** Parses `webhook-signature`: space-separated `version,base64` entries; unknown versions are skipped. */
export function parseStandardSignatures(scheme: string, header: string, name: string): Signatures {
  const out: Signatures = { v1: [], v1a: [] };
  for (const entry of header.split(' ')) {
    if (entry === '') continue;
    const comma = entry.indexOf(',');
    if (comma <= 0) throw schemeError(scheme, 'malformed_header', `a ${name} entry is not version,signature`, name);
    const version = entry.slice(0, comma);
    if (version !== 'v1' && version !== 'v1a') continue;
    const bytes = fromBase64(entry.slice(comma + 1));
    if (!bytes || bytes.length !== (version === 'v1' ? 32 : 64)) {
      throw schemeError(
        scheme,
        'malformed_header',
        `a ${version} signature in ${name} is not valid base64 of the right length`,
        name,
      );
    }
    out[version].push(bytes);
  }
  return out;
}

/** Options of {@link createStandardScheme}. */
export interface StandardSchemeOptions {
  /**
   * Which header names `sign` writes: `webhook-*` (the standard) or `svix-*` (what Svix sends).
   * Verification reads either.
   * @default 'webhook'
   */
  headerNames?: 'webhook' | 'svix';
}

/**
 * Builds a Standard Webhooks 1.0 scheme: HMAC-SHA256 (`v1`) and Ed25519 (`v1a`) over
 * `${id}.${timestamp}.${body}`, headers `webhook-id`, `webhook-timestamp`, `webhook-signature`
 * (or the same with `svix-`). The event id is `webhook-id`.
 */
export function createStandardScheme(options: StandardSchemeOptions = {}): WebhookScheme {
  const signPrefix = options.headerNames ?? 'webhook';
  const name = signPrefix === 'svix' ? 'svix' : 'standard';
  const keyOf = (secret: string) => cachedKey('standard', secret, (s) => decodeKey(name, s));
  return {
    name,
    checkSecret(secret) {
      if (keyOf(secret).kind === 'private') {
        throw schemeError(name, 'invalid_secret', 'a whsk_ key signs; verify with its whpk_ public key');
      }
    },
    async verify(request: SchemeRequest, secrets: readonly string[]): Promise<SchemeVerdict> {
      const prefix = request.header('webhook-signature') !== undefined ? 'webhook' : 'svix';
      const signatureHeader = `${prefix}-signature`;
      const id = requireHeader(name, request, `${prefix}-id`);
      const timestampText = requireHeader(name, request, `${prefix}-timestamp`);
      const signatures = parseStandardSignatures(name, requireHeader(name, request, signatureHeader), signatureHeader);
      const timestamp = parseUnixSeconds(timestampText);
      if (timestamp === undefined) {
        const code = timestampText.includes(',') ? 'duplicate_header' : 'malformed_header';
        throw schemeError(name, code, `${prefix}-timestamp is not unix seconds`, `${prefix}-timestamp`);
      }
      const signed = `${id}.${timestampText}.`;
      for (const secret of secrets) {
        const key = keyOf(secret);
        if (key.kind === 'hmac' && signatures.v1.length > 0) {
          const expected = await backend.hmac(key.key, signed, request.body);
          for (const signature of signatures.v1) {
            if (backend.equal(expected, signature)) return { id, timestamp };
          }
        } else if (key.kind === 'public') {
          for (const signature of signatures.v1a) {
            if (await backend.ed25519Verify(key.key, signature, signed, request.body)) return { id, timestamp };
          }
        }
      }
      throw schemeError(
        name,
        'no_matching_signature',
        `no signature in ${signatureHeader} matches the secret`,
        signatureHeader,
      );
    },
    async sign(request: SchemeSignRequest): Promise<Record<string, string>> {
      const signed = `${request.id}.${request.timestamp}.`;
      const parts: string[] = [];
      for (const secret of request.secrets) {
        const key = keyOf(secret);
        if (key.kind === 'public') throw schemeError(name, 'invalid_secret', 'a whpk_ public key cannot sign');
        parts.push(
          key.kind === 'hmac'
            ? `v1,${toBase64(await backend.hmac(key.key, signed, request.body))}`
            : `v1a,${toBase64(await backend.ed25519Sign(key.key, signed, request.body))}`,
        );
      }
      return {
        [`${signPrefix}-id`]: request.id,
        [`${signPrefix}-timestamp`]: String(request.timestamp),
        [`${signPrefix}-signature`]: parts.join(' '),
      };
    },
  };
}

/** Standard Webhooks 1.0 (Svix, Resend, Clerk, ...): verifies `webhook-*` or `svix-*` headers, signs `webhook-*`. */
export const standardScheme: WebhookScheme = createStandardScheme();

/**
 * Generates a Standard Webhooks Ed25519 key pair: `whsk_` for the sender, `whpk_` for receivers.
 *
 * @example
 * ```ts
 * const { secretKey, publicKey } = await generateStandardKeyPair();
 * await verifyWebhook(request, { scheme: 'standard', secret: publicKey });
 * ```
 */
export async function generateStandardKeyPair(): Promise<{ secretKey: string; publicKey: string }> {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const key = backend.ed25519PrivateKey(seed);
  if (!key) throw new Error('unreachable: a 32-byte seed is always a valid Ed25519 key');
  return { secretKey: `whsk_${toBase64(seed)}`, publicKey: `whpk_${toBase64(await backend.ed25519PublicOf(key))}` };
}
