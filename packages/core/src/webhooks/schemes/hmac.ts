import { backend } from '#crypto';
import { fromBase64, fromHex, toBase64, toHex } from '../../internal/encoding';
import type { HashAlgorithm } from '../crypto/types';
import { WebhookVerificationError } from '../errors';
import {
  anyHmacMatches,
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

/** Configuration of a generic HMAC scheme ({@link hmacScheme}). */
export interface HmacSchemeConfig {
  /**
   * The name reported in `VerifiedWebhook.scheme` and in errors.
   * @default 'hmac'
   */
  name?: string;
  /** The header that carries the signature, e.g. `X-Shopify-Hmac-Sha256` (any letter case). */
  header: string;
  /**
   * The hash function.
   * @default 'sha256'
   */
  algorithm?: HashAlgorithm;
  /**
   * How the signature is written in the header.
   * @default 'hex'
   */
  encoding?: 'hex' | 'base64';
  /**
   * Text before the signature in the header, e.g. `sha256=`.
   * @default ''
   */
  prefix?: string;
  /**
   * A header carrying the unix timestamp; without one there is no replay window. The timestamp must
   * be signed: `signedContent` must then contain `{timestamp}` (a window over a value the sender did
   * not sign checks nothing, so that configuration is refused with `invalid_options`).
   */
  timestampHeader?: string;
  /**
   * A header carrying the delivery id, reported as `deliveryId`. It becomes the event `id` only when
   * `signedContent` contains `{id}` (so the signature covers it); otherwise the id comes from
   * `payloadId`, or is `sha256:<hex of the body>`.
   */
  idHeader?: string;
  /** A header carrying the event type, e.g. `X-Shopify-Topic`; without one the type is the payload's `type`. */
  typeHeader?: string;
  /**
   * Reads the unique event id the sender puts in the signed body, used when `{id}` is not signed.
   * Never point it at a resource id (Shopify's payload `id` is the order's or product's): events about
   * one resource would share it, and all but the first would be dropped as duplicates.
   * @default none: the id is `sha256:<hex of the body>`
   */
  payloadId?: (payload: unknown) => string | undefined;
  /**
   * What is signed: a template ending in `{body}`, with `{timestamp}` and `{id}` available before it.
   * @default '{timestamp}.{body}' with a timestampHeader, else '{body}'
   */
  signedContent?: string;
}

const PLACEHOLDER = /\{(timestamp|id|body)\}/g;

function configError(message: string): WebhookVerificationError {
  return new WebhookVerificationError('invalid_options', message, {}, 'hmacScheme');
}

/** A header name in lower case, or `undefined` when not configured. */
function optionalHeader(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw configError(`${option} must be a non-empty header name`);
  return value.toLowerCase();
}

/**
 * Builds a generic HMAC scheme for senders with their own conventions: which header, SHA-256 or
 * SHA-512, hex or base64, an optional prefix, timestamp, id and type headers and a signed-content
 * template. The secret's UTF-8 bytes are the key. Throws `invalid_options` for a bad config.
 *
 * @example
 * ```ts
 * // Shopify: the type is X-Shopify-Topic; the webhook id is not signed, so the event id is a body digest
 * const shopify = hmacScheme({
 *   name: 'shopify',
 *   header: 'X-Shopify-Hmac-Sha256',
 *   encoding: 'base64',
 *   idHeader: 'X-Shopify-Webhook-Id',
 *   typeHeader: 'X-Shopify-Topic',
 * });
 * const event = await verifyWebhook(request, { scheme: shopify, secret: process.env.SHOPIFY_SECRET ?? '' });
 * ```
 */
export function hmacScheme(config: HmacSchemeConfig): WebhookScheme {
  if (typeof config !== 'object' || config === null) throw configError('hmacScheme needs a config object');
  const name = config.name ?? 'hmac';
  const algorithm = config.algorithm ?? 'sha256';
  const encoding = config.encoding ?? 'hex';
  const prefix = config.prefix ?? '';
  if (typeof name !== 'string' || name === '') throw configError('name must be a non-empty string');
  if (typeof config.header !== 'string' || config.header === '') throw configError('header is required');
  if (algorithm !== 'sha256' && algorithm !== 'sha512') throw configError("algorithm must be 'sha256' or 'sha512'");
  if (encoding !== 'hex' && encoding !== 'base64') throw configError("encoding must be 'hex' or 'base64'");
  if (typeof prefix !== 'string') throw configError('prefix must be a string');
  const header = config.header.toLowerCase();
  const timestampHeader = optionalHeader(config.timestampHeader, 'timestampHeader');
  const idHeader = optionalHeader(config.idHeader, 'idHeader');
  const typeHeader = optionalHeader(config.typeHeader, 'typeHeader');
  const payloadId = config.payloadId;
  if (payloadId !== undefined && typeof payloadId !== 'function') throw configError('payloadId must be a function');
  const template = config.signedContent ?? (timestampHeader ? '{timestamp}.{body}' : '{body}');
  if (
    typeof template !== 'string' ||
    !template.endsWith('{body}') ||
    template.indexOf('{body}') !== template.length - 6
  ) {
    throw configError('signedContent must end with {body} and contain it once');
  }
  const head = template.slice(0, -6);
  const signed = new Set<string>();
  for (const [, field] of head.matchAll(PLACEHOLDER)) {
    if (field === 'timestamp' && !timestampHeader) throw configError('{timestamp} needs a timestampHeader');
    if (field === 'id' && !idHeader) throw configError('{id} needs an idHeader');
    signed.add(field as string);
  }
  if (timestampHeader && !signed.has('timestamp')) {
    throw configError(
      'a timestampHeader needs {timestamp} in signedContent: an unsigned timestamp is chosen by the sender, so its window would check nothing',
    );
  }
  const idIsSigned = signed.has('id');
  const digestLength = algorithm === 'sha256' ? 32 : 64;
  const keyOf = (secret: string) => cachedKey(`hmac:${algorithm}`, secret, (s) => backend.hmacKey(s, algorithm));
  const signedPrefix = (timestamp: string, id: string) =>
    head.replace(PLACEHOLDER, (_, field: string) => (field === 'timestamp' ? timestamp : id));
  const decode = (text: string) => (encoding === 'hex' ? fromHex(text) : fromBase64(text));
  const encode = (bytes: Uint8Array) => (encoding === 'hex' ? toHex(bytes) : toBase64(bytes));

  const scheme: WebhookScheme = {
    name,
    checkSecret(secret) {
      checkSecretShape(name, secret);
    },
    verify(request: SchemeRequest, secrets: readonly string[]): SchemeVerdict | Promise<SchemeVerdict> {
      const value = requireHeader(name, request, header);
      const signature = value.startsWith(prefix) ? decode(value.slice(prefix.length)) : undefined;
      if (!signature || signature.length !== digestLength) {
        const code = value.includes(',') && encoding === 'hex' ? 'duplicate_header' : 'malformed_header';
        throw schemeError(name, code, `${config.header} is not a ${encoding} ${algorithm} signature`, header);
      }
      const deliveryId = idHeader ? requireHeader(name, request, idHeader) : undefined;
      const type = typeHeader ? requireHeader(name, request, typeHeader) : undefined;
      let timestamp: number | null = null;
      let timestampText = '';
      if (timestampHeader) {
        timestampText = requireHeader(name, request, timestampHeader);
        const parsed = parseUnixSeconds(timestampText);
        if (parsed === undefined) {
          throw schemeError(name, 'malformed_header', `${config.timestampHeader} is not unix seconds`, timestampHeader);
        }
        timestamp = parsed;
      }
      const signed = signedPrefix(timestampText, deliveryId ?? '');
      const matched = anyHmacMatches(secrets, keyOf, signed, request.body, [signature]);
      const id = idIsSigned ? deliveryId : undefined;
      return verdictWhen(matched, { id, timestamp, type, deliveryId }, name, header);
    },
    async sign(request: SchemeSignRequest): Promise<Record<string, string>> {
      const [secret, ...more] = request.secrets;
      if (secret === undefined || more.length > 0) {
        throw schemeError(name, 'invalid_secret', 'this scheme sends exactly one signature: give one secret');
      }
      const timestampText = String(request.timestamp);
      const mac = await backend.hmac(keyOf(secret), signedPrefix(timestampText, request.id), request.body);
      const headers: Record<string, string> = { [header]: `${prefix}${encode(mac)}` };
      if (timestampHeader) headers[timestampHeader] = timestampText;
      if (idHeader) headers[idHeader] = request.id;
      if (typeHeader) {
        if (request.type === undefined)
          throw schemeError(name, 'invalid_options', `give a type for ${config.typeHeader}`);
        headers[typeHeader] = request.type;
      }
      return headers;
    },
  };
  if (payloadId !== undefined) scheme.payloadId = payloadId;
  return scheme;
}
