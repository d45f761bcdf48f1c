import { backend } from '#crypto';
import { isHex, toHex } from '../../internal/encoding';
import {
  anyHmacTextMatches,
  cachedKey,
  checkSecretShape,
  requireHeader,
  type SchemeRequest,
  type SchemeSignRequest,
  type SchemeVerdict,
  schemeError,
  verdictWhen,
  type WebhookScheme,
} from '../scheme';

const NAME = 'github';
const HEADER = 'x-hub-signature-256';
const DELIVERY = 'x-github-delivery';
const EVENT = 'x-github-event';
const keyOf = (secret: string) => cachedKey(NAME, secret, (s) => backend.hmacKey(s, 'sha256'));

/** Where the hex digits start in `sha256=<hex>`. */
const SIGNATURE_START: readonly number[] = [7];

/**
 * GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 over the body keyed with the secret's
 * UTF-8 bytes. The type is `X-GitHub-Event` (required). GitHub signs neither a timestamp nor its
 * `X-GitHub-Delivery` id, so there is no replay window and the delivery id is only reported as
 * `deliveryId`: the event id is `sha256:<hex of the body>`, which the signature covers, so a
 * captured delivery resent under a new delivery id is still a duplicate.
 */
export const githubScheme: WebhookScheme = {
  name: NAME,
  checkSecret(secret) {
    checkSecretShape(NAME, secret);
  },
  verify(request: SchemeRequest, secrets: readonly string[]): SchemeVerdict | Promise<SchemeVerdict> {
    const header = requireHeader(NAME, request, HEADER);
    const type = requireHeader(NAME, request, EVENT);
    const deliveryId = request.header(DELIVERY) || undefined;
    if (!header.startsWith('sha256=')) {
      throw schemeError(NAME, 'malformed_header', 'X-Hub-Signature-256 does not start with sha256=', HEADER);
    }
    if (header.length !== 71 || !isHex(header, 7, 71)) {
      const code = header.includes(',') ? 'duplicate_header' : 'malformed_header';
      throw schemeError(NAME, code, 'X-Hub-Signature-256 is not sha256= and 64 hex digits', HEADER);
    }
    const matched = anyHmacTextMatches(secrets, keyOf, '', request.body, 'hex', header, SIGNATURE_START);
    return verdictWhen(matched, { timestamp: null, type, deliveryId }, NAME, HEADER);
  },
  async sign(request: SchemeSignRequest): Promise<Record<string, string>> {
    const [secret, ...more] = request.secrets;
    if (secret === undefined || more.length > 0) {
      throw schemeError(NAME, 'invalid_secret', 'GitHub sends exactly one signature: give one secret');
    }
    if (request.type === undefined) {
      throw schemeError(NAME, 'invalid_options', 'GitHub sends the event type in X-GitHub-Event: give a type');
    }
    return {
      [HEADER]: `sha256=${toHex(await backend.hmac(keyOf(secret), '', request.body))}`,
      [DELIVERY]: request.id,
      [EVENT]: request.type,
    };
  },
};
