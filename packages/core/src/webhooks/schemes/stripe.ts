import { backend } from '#crypto';
import { isHex, toHex } from '../../internal/encoding';
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
  verdictWhen,
  type WebhookScheme,
} from '../scheme';

const NAME = 'stripe';
const HEADER = 'stripe-signature';
const keyOf = (secret: string) => cachedKey(NAME, secret, (s) => backend.hmacKey(s, 'sha256'));

/** `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=<hex>]`, parsed. */
interface StripeHeader {
  timestamp: number;
  /** `${t}.`, exactly as signed */
  prefix: string;
  /** where each v1 signature (64 hex digits, compared as written) starts in the header */
  signatures: number[];
}

/** Parses the Stripe-Signature header; throws `malformed_header` / `duplicate_header`. */
export function parseStripeSignature(header: string): StripeHeader {
  let timestamp: number | undefined;
  let prefix = '';
  const signatures: number[] = [];
  let start = 0;
  while (start <= header.length) {
    // a header sent twice arrives joined with ", ": skip the space so its "t" is seen as a second timestamp
    while (header.charCodeAt(start) === 32) start++;
    let end = header.indexOf(',', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq === -1 || eq >= end) {
      throw schemeError(NAME, 'malformed_header', 'an entry of Stripe-Signature is not key=value', HEADER);
    }
    // keys are compared in place: only t and v1 matter, and their values are the only slices taken
    const keyLength = eq - start;
    const first = header.charCodeAt(start);
    if (keyLength === 1 && first === 116 /* t */) {
      const value = header.slice(eq + 1, end);
      if (timestamp !== undefined) {
        throw schemeError(NAME, 'duplicate_header', 'Stripe-Signature carries two timestamps', HEADER);
      }
      timestamp = parseUnixSeconds(value);
      if (timestamp === undefined) {
        throw schemeError(NAME, 'malformed_header', 'the Stripe-Signature timestamp is not unix seconds', HEADER);
      }
      prefix = `${value}.`;
    } else if (keyLength === 2 && first === 118 /* v */ && header.charCodeAt(start + 1) === 49 /* 1 */) {
      if (end - eq - 1 !== 64 || !isHex(header, eq + 1, end)) {
        throw schemeError(NAME, 'malformed_header', 'a v1 signature is not 64 hex digits', HEADER);
      }
      // compared as text against the lower-case hex HMAC, as Stripe's own libraries do
      signatures.push(eq + 1);
    }
    // other schemes (v0 test signatures, future ones) are ignored
    start = end + 1;
  }
  if (timestamp === undefined) {
    throw schemeError(NAME, 'malformed_header', 'Stripe-Signature has no t= timestamp', HEADER);
  }
  return { timestamp, prefix, signatures };
}

/**
 * Stripe: HMAC-SHA256 in hex over `${t}.${body}`, keyed with the whole `whsec_...` string; every
 * `v1` entry is tried against every secret. The event id is the payload's `id` (`evt_...`, inside
 * the signed body; Stripe's retries carry the same one), the type its `type`.
 */
export const stripeScheme: WebhookScheme = {
  name: NAME,
  checkSecret(secret) {
    checkSecretShape(NAME, secret);
    if (!secret.startsWith('whsec_')) {
      throw schemeError(NAME, 'invalid_secret', 'a Stripe endpoint secret starts with whsec_');
    }
  },
  verify(request: SchemeRequest, secrets: readonly string[]): SchemeVerdict | Promise<SchemeVerdict> {
    const header = requireHeader(NAME, request, HEADER);
    const { timestamp, prefix, signatures } = parseStripeSignature(header);
    if (signatures.length === 0) {
      throw schemeError(NAME, 'no_matching_signature', 'Stripe-Signature has no v1 signature', HEADER);
    }
    const matched = anyHmacTextMatches(secrets, keyOf, prefix, request.body, 'hex', header, signatures);
    return verdictWhen(matched, { timestamp }, NAME, HEADER);
  },
  async sign(request: SchemeSignRequest): Promise<Record<string, string>> {
    const prefix = `${request.timestamp}.`;
    let header = `t=${request.timestamp}`;
    for (const secret of request.secrets) {
      header += `,v1=${toHex(await backend.hmac(keyOf(secret), prefix, request.body))}`;
    }
    return { 'stripe-signature': header };
  },
  payloadId(payload: unknown): string | undefined {
    const id = typeof payload === 'object' && payload !== null ? (payload as { id?: unknown }).id : undefined;
    return typeof id === 'string' ? id : undefined;
  },
};
