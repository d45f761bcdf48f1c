import { backend } from '#crypto';
import type { HmacKey } from './crypto/types';
import { WebhookVerificationError, type WebhookVerificationErrorCode } from './errors';

/** The request as a scheme sees it: the raw body and a header lookup. */
export interface SchemeRequest {
  /** The raw body: the caller's string, or the bytes read off the wire. */
  readonly body: string | Uint8Array;
  /**
   * The value of a header (name in lower case), or `undefined` when it is absent. Rejects with
   * `duplicate_header` when a plain header record holds it more than once.
   */
  header(name: string): string | undefined;
}

/** What a scheme reports once a signature matched. */
export interface SchemeVerdict {
  /**
   * An event id that the signature covers (Standard Webhooks' signed `webhook-id`, an `{id}` in an
   * HMAC template). Leave it out when the scheme's id is not signed: anyone who captured a delivery
   * could resend it under a fresh id. `verifyWebhook` then takes the id from the signed body (see
   * {@link WebhookScheme.payloadId}).
   */
  id?: string | undefined;
  /** The signed timestamp (unix seconds), or `null` when the scheme signs none. */
  timestamp: number | null;
  /**
   * The event type when the provider sends it in a header (GitHub's `X-GitHub-Event`); left out, it
   * is read from the payload's `type`. A header type is usually not signed.
   */
  type?: string | undefined;
  /** The provider's delivery id header as sent (`X-GitHub-Delivery`, ...), for logs; may be unsigned. */
  deliveryId?: string | undefined;
}

/** What a scheme gets to sign: the body and the values it may put in headers. */
export interface SchemeSignRequest {
  /** The exact body that will be sent. */
  readonly body: string | Uint8Array;
  /** Unix seconds to sign. */
  readonly timestamp: number;
  /** The delivery id to send (schemes that carry one). */
  readonly id: string;
  /** The event type, for schemes that send it in a header (`github`, `hmacScheme({ typeHeader })`). */
  readonly type?: string | undefined;
  /** One secret per signature to produce (several during a rotation). */
  readonly secrets: readonly string[];
}

/**
 * A signature scheme: one module each (`schemes/stripe.ts`, ...). Adding a provider is writing one
 * of these. A scheme only checks the signature and reports what its headers say (a signed id, the
 * timestamp, the type, the delivery id); body limits, the replay window, payload parsing and the
 * de-duplication id are shared by `verifyWebhook`.
 */
export interface WebhookScheme {
  /** Short name reported in `VerifiedWebhook.scheme` and in errors. */
  readonly name: string;
  /**
   * Checks the request against the secrets (any may match). Throws a {@link WebhookVerificationError}
   * (use {@link schemeError}) when it does not verify. The secrets were checked by {@link checkSecret}.
   */
  verify(request: SchemeRequest, secrets: readonly string[]): SchemeVerdict | Promise<SchemeVerdict>;
  /** Produces the headers a genuine sender would send for this body. */
  sign(request: SchemeSignRequest): Record<string, string> | Promise<Record<string, string>>;
  /** Rejects a secret that cannot be right for this scheme, before any request is read. */
  checkSecret?(secret: string): void;
  /**
   * The unique event id the provider puts in the signed body (Stripe's `id`), read from the parsed
   * payload when the verdict carries no signed id. Without this method, or when it returns
   * `undefined`, the id is `sha256:<hex of the body>`. Never return a resource id (Shopify's
   * payload `id` is the order's): two events about one resource would share it, and the second
   * would be dropped as a duplicate.
   */
  payloadId?(payload: unknown): string | undefined;
}

/** Builds the error a scheme throws. */
export function schemeError(
  scheme: string,
  code: WebhookVerificationErrorCode,
  message: string,
  header?: string,
): WebhookVerificationError {
  return new WebhookVerificationError(code, message, header === undefined ? { scheme } : { scheme, header });
}

/** Rejects a header that is absent. */
export function requireHeader(scheme: string, request: SchemeRequest, name: string): string {
  const value = request.header(name);
  if (value === undefined || value === '') {
    throw schemeError(scheme, 'missing_header', `the ${name} header is missing`, name);
  }
  return value;
}

/**
 * Parses unix seconds written as canonical decimal digits (no sign, no leading zero, at most 12
 * digits); `undefined` otherwise.
 */
export function parseUnixSeconds(text: string): number | undefined {
  const length = text.length;
  if (length === 0 || length > 12 || (length > 1 && text.charCodeAt(0) === 48)) return undefined;
  let value = 0;
  for (let i = 0; i < length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return value;
}

const keyCaches = new Map<string, Map<string, unknown>>();
const KEY_CACHE_SIZE = 64;

/**
 * Returns the key derived from `secret` for `scope`, deriving it once: imported keys are cached per
 * secret (a small bounded map per scope, oldest evicted first).
 */
export function cachedKey<K>(scope: string, secret: string, derive: (secret: string) => K): K {
  let cache = keyCaches.get(scope);
  if (cache === undefined) {
    cache = new Map();
    keyCaches.set(scope, cache);
  }
  const hit = cache.get(secret);
  if (hit !== undefined) return hit as K;
  const key = derive(secret);
  if (cache.size >= KEY_CACHE_SIZE) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(secret, key);
  return key;
}

/** Rejects a secret with stray leading or trailing whitespace, or an empty one. */
export function checkSecretShape(scheme: string, secret: string): void {
  if (secret.length === 0) throw schemeError(scheme, 'invalid_secret', 'the secret is empty');
  if (secret.trim() !== secret) {
    throw schemeError(scheme, 'invalid_secret', 'the secret has leading or trailing whitespace');
  }
}

/**
 * Applies `then` to a value that may be a promise, staying synchronous when it is not: the
 * node:crypto backend answers synchronously, and the verification path skips the microtask hops.
 */
export function settle<T, R>(value: T | Promise<T>, then: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(then) : then(value);
}

/** True when `test` holds for any item, tried in order; synchronous as long as `test` is. */
export function someItem<T>(
  items: readonly T[],
  test: (item: T) => boolean | Promise<boolean>,
  from = 0,
): boolean | Promise<boolean> {
  for (let i = from; i < items.length; i++) {
    const outcome = test(items[i] as T);
    if (outcome instanceof Promise) return outcome.then((ok) => ok || someItem(items, test, i + 1));
    if (outcome) return true;
  }
  return false;
}

/** True when `expected` equals one of the candidates, each compared in constant time. */
function matchesAny(expected: Uint8Array, candidates: readonly Uint8Array[]): boolean {
  for (const candidate of candidates) {
    if (backend.equal(expected, candidate)) return true;
  }
  return false;
}

/**
 * True when the HMAC of `prefix + body` under the key of any secret equals any candidate, each
 * compared in constant time. `keyOf` returns `undefined` for a secret that is not an HMAC key.
 * Synchronous with a synchronous backend, and without a closure per call on that path.
 */
export function anyHmacMatches(
  secrets: readonly string[],
  keyOf: (secret: string) => HmacKey | undefined,
  prefix: string,
  body: string | Uint8Array,
  candidates: readonly Uint8Array[],
  from = 0,
): boolean | Promise<boolean> {
  if (candidates.length === 0) return false;
  for (let i = from; i < secrets.length; i++) {
    const key = keyOf(secrets[i] as string);
    if (key === undefined) continue;
    const mac = backend.hmac(key, prefix, body);
    if (mac instanceof Promise) {
      return mac.then(
        (bytes) => matchesAny(bytes, candidates) || anyHmacMatches(secrets, keyOf, prefix, body, candidates, i + 1),
      );
    }
    if (matchesAny(mac, candidates)) return true;
  }
  return false;
}

/** Resolves to `verdict` when `matched`, else rejects with `no_matching_signature` for `header`. */
export function verdictWhen(
  matched: boolean | Promise<boolean>,
  verdict: SchemeVerdict,
  scheme: string,
  header: string,
): SchemeVerdict | Promise<SchemeVerdict> {
  if (matched === true) return verdict;
  if (matched === false) throw noMatch(scheme, header);
  return matched.then((ok) => {
    if (!ok) throw noMatch(scheme, header);
    return verdict;
  });
}

function noMatch(scheme: string, header: string): WebhookVerificationError {
  return schemeError(scheme, 'no_matching_signature', `no signature in ${header} matches the secret`, header);
}

/**
 * Constant-time equality of `expected` and the same number of characters of `source` from `start`
 * (only the lengths, which are public, end it early). Compared in place: a slice of the header would
 * be a sliced string, which V8 reads about three times slower character by character.
 */
function equalTextAt(expected: string, source: string, start: number): boolean {
  if (source.length - start < expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ source.charCodeAt(start + i);
  return diff === 0;
}

/**
 * {@link anyHmacMatches} for signatures kept as they are written in the header (lower-case hex or
 * padded base64): the expected HMAC is encoded once per secret and compared as text in constant
 * time against each candidate in place, `source` from each of `starts`, so no candidate is decoded,
 * sliced or allocated.
 */
export function anyHmacTextMatches(
  secrets: readonly string[],
  keyOf: (secret: string) => HmacKey | undefined,
  prefix: string,
  body: string | Uint8Array,
  encoding: 'hex' | 'base64',
  source: string,
  starts: readonly number[],
  from = 0,
): boolean | Promise<boolean> {
  if (starts.length === 0) return false;
  for (let i = from; i < secrets.length; i++) {
    const key = keyOf(secrets[i] as string);
    if (key === undefined) continue;
    const mac = backend.hmacText(key, prefix, body, encoding);
    if (mac instanceof Promise) {
      return mac.then(
        (text) =>
          matchesAnyTextAt(text, source, starts) ||
          anyHmacTextMatches(secrets, keyOf, prefix, body, encoding, source, starts, i + 1),
      );
    }
    if (matchesAnyTextAt(mac, source, starts)) return true;
  }
  return false;
}

function matchesAnyTextAt(expected: string, source: string, starts: readonly number[]): boolean {
  for (let i = 0; i < starts.length; i++) if (equalTextAt(expected, source, starts[i] as number)) return true;
  return false;
}
