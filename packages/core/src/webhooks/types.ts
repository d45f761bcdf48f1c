import type { WebhookScheme } from './scheme';

/** Header containers `verifyWebhook` accepts: a Web `Headers`, or a plain record in any letter case. */
export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** A raw request body, exactly as it came off the wire. `Buffer` is a `Uint8Array`. */
export type WebhookBody = string | Uint8Array | ArrayBuffer;

/** What `verifyWebhook` verifies: a Web `Request`, or the raw body with the request headers. */
export type WebhookInput = Request | { body: WebhookBody; headers: WebhookHeaders };

/** A secret value, or anything that hands one out on demand (such as the vault's `Secret`). */
export type SecretInput = string | { reveal(): string };

/** Names of the built-in schemes that take no configuration. */
export type WebhookSchemeName = 'stripe' | 'standard' | 'github' | 'basic';

/** How the verified payload is returned. */
export type WebhookPayloadFormat = 'json' | 'raw';

/** Options of `verifyWebhook` and `createWebhookVerifier`. */
export interface VerifyWebhookOptions {
  /**
   * The signature scheme: a built-in name, or a scheme object such as `hmacScheme({ ... })` or
   * `standardScheme({ ... })`.
   */
  scheme: WebhookSchemeName | WebhookScheme;
  /**
   * The secret, or several during a rotation: a request passes when any of them matches. What a
   * secret looks like depends on the scheme (`whsec_...` for Stripe, `whsec_<base64>` or a
   * `whpk_<base64>` public key for Standard Webhooks, `user:password` for `basic`). Leading or
   * trailing whitespace is rejected with `invalid_secret`, never trimmed silently.
   */
  secret: SecretInput | readonly SecretInput[];
  /**
   * How old, in seconds, a signed timestamp may be. Schemes without a timestamp (`github`,
   * `basic`, `hmac` without `timestampHeader`) have no replay window at all.
   * `Infinity` turns the check off.
   * @default 300
   */
  tolerance?: number;
  /**
   * How far ahead of `now`, in seconds, a signed timestamp may be (the sender's clock may run fast).
   * `Infinity` turns the check off.
   * @default 300
   */
  maxFutureSkew?: number;
  /**
   * The clock, in milliseconds since the epoch.
   * @default Date.now
   */
  now?: () => number;
  /**
   * The largest body accepted, in bytes. Larger bodies are rejected with `body_too_large` before any
   * hashing, and a `Request` body stops being read as soon as it passes the limit.
   * @default 1_048_576 (1 MiB)
   */
  maxBodyBytes?: number;
  /**
   * `'json'` parses the payload (and rejects a body that is not UTF-8 JSON with `invalid_body`);
   * `'raw'` returns the verified bytes untouched (they are still read as JSON, never failing on it,
   * when the event id or type must come from the payload).
   * @default 'json'
   */
  payload?: WebhookPayloadFormat;
}

/** A webhook whose signature, timestamp and size were checked. */
export interface VerifiedWebhook<P = unknown> {
  /**
   * The de-duplication key, always covered by the signature: a signed id header (`webhook-id`),
   * else the unique event id the provider puts in the signed body (Stripe's `id`), else
   * `sha256:<hex of the body>`. An unsigned id header (`X-GitHub-Delivery`, an `hmacScheme`'s
   * `idHeader`) is never used here, so a captured delivery resent under a new delivery id keeps its
   * id and is absorbed as a duplicate; that header is in {@link VerifiedWebhook.deliveryId}.
   */
  id: string;
  /**
   * The event type: from the scheme's type header where the provider sends it there (GitHub's
   * `X-GitHub-Event`, an `hmacScheme`'s `typeHeader`), else the payload's `type` when the payload is
   * a JSON object with a non-empty string `type` (Stripe, Standard Webhooks), else `undefined`.
   */
  type: string | undefined;
  /** The provider's delivery id header as sent (`X-GitHub-Delivery`, `webhook-id`, ...), or `null`; may be unsigned. */
  deliveryId: string | null;
  /** The signed timestamp in unix seconds, or `null` when the scheme signs none. */
  timestamp: number | null;
  /** The name of the scheme that verified it. */
  scheme: string;
  /** The parsed JSON, or the raw bytes with `payload: 'raw'`. */
  payload: P;
  /** The exact bytes that were verified. */
  rawBody: Uint8Array;
}
