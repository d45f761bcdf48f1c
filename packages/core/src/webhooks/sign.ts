import { WebhookVerificationError } from './errors';
import { resolveScheme } from './options';
import type { WebhookScheme } from './scheme';
import type { SecretInput, WebhookSchemeName } from './types';

const API = 'signWebhook';

/** Options of {@link signWebhook}. */
export interface SignWebhookOptions {
  /** The scheme to sign for: a built-in name or a scheme object. */
  scheme: WebhookSchemeName | WebhookScheme;
  /**
   * The signing secret; several produce one signature each, as a sender does during a rotation.
   * For Standard Webhooks this is `whsec_<base64>` (HMAC, `v1`) or `whsk_<base64>` (Ed25519, `v1a`).
   */
  secret: SecretInput | readonly SecretInput[];
  /** The exact body to send. */
  body: string | Uint8Array;
  /**
   * Unix seconds to sign.
   * @default the current time from `now`
   */
  timestamp?: number;
  /**
   * The delivery id, for schemes that send one (`standard`, `github`).
   * @default a random UUID
   */
  id?: string;
  /**
   * The event type, for schemes that send it in a header (`github`'s `X-GitHub-Event`, an
   * `hmacScheme`'s `typeHeader`); those schemes refuse to sign without it. Others ignore it.
   */
  type?: string;
  /**
   * The clock, in milliseconds since the epoch.
   * @default Date.now
   */
  now?: () => number;
}

/** A signed delivery, ready to send. */
export interface SignedWebhook {
  /** The body, unchanged. */
  body: string | Uint8Array;
  /** The headers to send with it (lower-case names), including `content-type: application/json`. */
  headers: Record<string, string>;
}

function invalid(message: string): WebhookVerificationError {
  return new WebhookVerificationError('invalid_options', message, {}, API);
}

/**
 * Signs a body the way the scheme's provider does: for tests, fakes and your own senders.
 *
 * @example
 * ```ts
 * const { body, headers } = await signWebhook({ scheme: 'stripe', secret: 'whsec_test', body: '{"id":"evt_1"}' });
 * await fetch('http://127.0.0.1:3000/webhooks/stripe', { method: 'POST', body, headers });
 * ```
 */
export async function signWebhook(options: SignWebhookOptions): Promise<SignedWebhook> {
  try {
    if (typeof options !== 'object' || options === null) throw invalid('options are required');
    const scheme = resolveScheme(options.scheme, API);
    const { body, now = () => Date.now() } = options;
    if (typeof body !== 'string' && !(body instanceof Uint8Array)) throw invalid('body must be a string or bytes');
    const timestamp = options.timestamp ?? Math.floor(now() / 1000);
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw invalid('timestamp must be whole unix seconds');
    const id = options.id ?? crypto.randomUUID();
    if (typeof id !== 'string' || id === '') throw invalid('id must be a non-empty string');
    const type = options.type;
    if (type !== undefined && (typeof type !== 'string' || type === ''))
      throw invalid('type must be a non-empty string');
    const list: readonly SecretInput[] = Array.isArray(options.secret)
      ? options.secret
      : [options.secret as SecretInput];
    const secrets = list.map((s) => (typeof s === 'string' ? s : s?.reveal?.()));
    if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s === '' || s.trim() !== s)) {
      throw new WebhookVerificationError(
        'invalid_secret',
        'every secret must be a non-empty string without stray whitespace',
        { scheme: scheme.name },
        API,
      );
    }
    const headers = await scheme.sign({ body, timestamp, id, type, secrets: secrets as string[] });
    return { body, headers: { 'content-type': 'application/json', ...headers } };
  } catch (error) {
    if (error instanceof WebhookVerificationError) throw error;
    throw new WebhookVerificationError('invalid_options', 'signing failed', { cause: error }, API);
  }
}
