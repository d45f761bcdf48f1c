import { backend } from '#crypto';
import { fromBase64, isPaddedBase64, toBase64 } from '../../internal/encoding';
import type { Ed25519Key, HmacKey } from '../crypto/types';
import type { WebhookVerificationError } from '../errors';
import {
  anyHmacTextMatches,
  cachedKey,
  checkSecretShape,
  parseUnixSeconds,
  requireHeader,
  type SchemeRequest,
  type SchemeSignRequest,
  type SchemeVerdict,
  schemeError,
  settle,
  someItem,
  verdictWhen,
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

/** Header names as constants: lookups by a freshly concatenated name would re-hash it on every call. */
const HEADERS = {
  webhook: { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' },
  svix: { id: 'svix-id', timestamp: 'svix-timestamp', signature: 'svix-signature' },
} as const;

interface Signatures {
  /**
   * Where each HMAC signature starts in the header: 44 characters each, compared as written (padded
   * base64 of 32 bytes) in place; their alphabet is checked by {@link checkV1Syntax}
   */
  readonly v1: readonly number[];
  /** Ed25519 signatures, decoded */
  readonly v1a: readonly Uint8Array[];
}

/** Shared by every header without entries of a version, so the usual one-signature header allocates one array. */
const NONE: readonly never[] = Object.freeze([]);

/** The length of a `v1` signature: padded base64 of 32 bytes. */
const V1_LENGTH = 44;

function malformedV1(scheme: string, name: string): WebhookVerificationError {
  return schemeError(scheme, 'malformed_header', `a v1 signature in ${name} is not base64 of 32 bytes`, name);
}

/** Rejects a `v1` entry that is not padded base64 (its length was checked by the parser). */
function checkV1Syntax(scheme: string, header: string, starts: readonly number[], name: string): void {
  for (const start of starts) {
    if (!isPaddedBase64(header, start, start + V1_LENGTH, 32)) throw malformedV1(scheme, name);
  }
}

/**
 * Parses `webhook-signature`: space-separated `version,base64` entries; unknown versions are
 * skipped. `v1` entries are checked for length here and for their alphabet by {@link checkV1Syntax}.
 */
export function parseStandardSignatures(scheme: string, header: string, name: string): Signatures {
  let v1s: number[] | undefined;
  let v1as: Uint8Array[] | undefined;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(' ', start);
    if (end === -1) end = header.length;
    if (end > start) {
      const comma = header.indexOf(',', start);
      if (comma <= start || comma >= end) {
        throw schemeError(scheme, 'malformed_header', `a ${name} entry is not version,signature`, name);
      }
      // versions are compared in place; only v1 and v1a are decoded, others are skipped
      const v1 = comma - start >= 2 && header.charCodeAt(start) === 118 && header.charCodeAt(start + 1) === 49;
      const version = !v1
        ? undefined
        : comma - start === 2
          ? 'v1'
          : comma - start === 3 && header.charCodeAt(start + 2) === 97
            ? 'v1a'
            : undefined;
      if (version === 'v1') {
        if (end - comma - 1 !== V1_LENGTH) throw malformedV1(scheme, name);
        if (v1s === undefined) v1s = [comma + 1];
        else v1s.push(comma + 1);
      } else if (version === 'v1a') {
        const bytes = fromBase64(header, comma + 1, end);
        if (bytes?.length !== 64) {
          throw schemeError(scheme, 'malformed_header', `a v1a signature in ${name} is not base64 of 64 bytes`, name);
        }
        if (v1as === undefined) v1as = [bytes];
        else v1as.push(bytes);
      }
    }
    start = end + 1;
  }
  return { v1: v1s ?? NONE, v1a: v1as ?? NONE };
}

/**
 * Ed25519 (`v1a`) against each `whpk_` public key, once no HMAC signature matched. A function of its
 * own so that the closures live here: in `verify` they would cost a context allocation on every call.
 */
function orPublicKeyMatches(
  hmacMatched: boolean | Promise<boolean>,
  secrets: readonly string[],
  keyOf: (secret: string) => StandardKey,
  signatures: readonly Uint8Array[],
  signed: string,
  body: string | Uint8Array,
): boolean | Promise<boolean> {
  const publicKeyMatches = (secret: string) => {
    const key = keyOf(secret);
    if (key.kind !== 'public') return false;
    return someItem(signatures, (signature) => backend.ed25519Verify(key.key, signature, signed, body));
  };
  return settle(hmacMatched, (ok) => ok || someItem(secrets, publicKeyMatches));
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
 * (or the same with `svix-`). The event id is `webhook-id`, which the signature covers; the type is
 * the payload's `type`.
 */
export function createStandardScheme(options: StandardSchemeOptions = {}): WebhookScheme {
  const signPrefix = options.headerNames ?? 'webhook';
  const name = signPrefix === 'svix' ? 'svix' : 'standard';
  const decode = (secret: string) => decodeKey(name, secret);
  const keyOf = (secret: string) => cachedKey('standard', secret, decode);
  const hmacKeyOf = (secret: string) => {
    const key = keyOf(secret);
    return key.kind === 'hmac' ? key.key : undefined;
  };
  return {
    name,
    checkSecret(secret) {
      if (keyOf(secret).kind === 'private') {
        throw schemeError(name, 'invalid_secret', 'a whsk_ key signs; verify with its whpk_ public key');
      }
    },
    verify(request: SchemeRequest, secrets: readonly string[]): SchemeVerdict | Promise<SchemeVerdict> {
      const standardSignature = request.header(HEADERS.webhook.signature);
      const names = standardSignature !== undefined ? HEADERS.webhook : HEADERS.svix;
      const signatureHeader = names.signature;
      const id = requireHeader(name, request, names.id);
      const timestampText = requireHeader(name, request, names.timestamp);
      const signatureText = standardSignature || requireHeader(name, request, signatureHeader);
      const signatures = parseStandardSignatures(name, signatureText, signatureHeader);
      const timestamp = parseUnixSeconds(timestampText);
      if (timestamp === undefined) {
        const code = timestampText.includes(',') ? 'duplicate_header' : 'malformed_header';
        throw schemeError(name, code, `${names.timestamp} is not unix seconds`, names.timestamp);
      }
      const signed = `${id}.${timestampText}.`;
      const v1 = signatures.v1;
      const hmacMatched = anyHmacTextMatches(secrets, hmacKeyOf, signed, request.body, 'base64', signatureText, v1);
      // a lone entry that matched equals our own padded base64, so it is well formed; any other is checked
      if (hmacMatched !== true || v1.length > 1) checkV1Syntax(name, signatureText, v1, signatureHeader);
      const matched =
        signatures.v1a.length === 0
          ? hmacMatched
          : orPublicKeyMatches(hmacMatched, secrets, keyOf, signatures.v1a, signed, request.body);
      return verdictWhen(matched, { id, timestamp, deliveryId: id }, name, signatureHeader);
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
      const names = HEADERS[signPrefix];
      return {
        [names.id]: request.id,
        [names.timestamp]: String(request.timestamp),
        [names.signature]: parts.join(' '),
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
