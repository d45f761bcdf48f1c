import { backend } from '#crypto';
import { fromBase64, fromUtf8, toBase64, utf8 } from '../../internal/encoding';
import {
  cachedKey,
  checkSecretShape,
  requireHeader,
  type SchemeRequest,
  type SchemeSignRequest,
  type SchemeVerdict,
  schemeError,
  type WebhookScheme,
} from '../scheme';

const NAME = 'basic';
const HEADER = 'authorization';
const digestOf = (secret: string) => cachedKey(NAME, secret, (s) => backend.sha256(s));

/**
 * HTTP Basic credentials, for senders that sign nothing (Pipedrive): the secret is `user:password`.
 * The presented and expected credentials are compared as SHA-256 digests in constant time, so
 * neither their content nor their length leaks through timing. Nothing is signed: no timestamp, so
 * no replay window, and the body is not covered. The event id is `meta.id` of a Pipedrive v2 payload
 * (`meta.version` `'2.0'`: Pipedrive's event id, the same on its retries), else
 * `sha256:<hex of the body>` (a v1 payload's `meta.id` is the changed object's id, not the event's).
 */
export const basicScheme: WebhookScheme = {
  name: NAME,
  checkSecret(secret) {
    checkSecretShape(NAME, secret);
    if (!secret.includes(':')) throw schemeError(NAME, 'invalid_secret', 'a basic secret is user:password');
  },
  async verify(request: SchemeRequest, secrets: readonly string[]): Promise<SchemeVerdict> {
    const header = requireHeader(NAME, request, HEADER);
    const match = /^basic +([^ ]+) *$/i.exec(header);
    const decoded = match?.[1] === undefined ? undefined : fromBase64(match[1]);
    const credentials = decoded && fromUtf8(decoded);
    if (credentials === undefined || !credentials.includes(':')) {
      const code = header.includes(',') ? 'duplicate_header' : 'malformed_header';
      throw schemeError(NAME, code, 'Authorization is not Basic base64(user:password)', HEADER);
    }
    const presented = await backend.sha256(credentials);
    let matched = false;
    for (const secret of secrets) {
      // no early exit: every configured secret costs the same
      if (backend.equal(presented, await digestOf(secret))) matched = true;
    }
    if (matched) return { timestamp: null };
    throw schemeError(NAME, 'no_matching_signature', 'the Basic credentials do not match', HEADER);
  },
  sign(request: SchemeSignRequest): Record<string, string> {
    const [secret] = request.secrets;
    if (secret === undefined || !secret.includes(':')) {
      throw schemeError(NAME, 'invalid_secret', 'a basic secret is user:password');
    }
    return { [HEADER]: `Basic ${toBase64(utf8(secret))}` };
  },
  payloadId(payload: unknown): string | undefined {
    const meta = typeof payload === 'object' && payload !== null ? (payload as { meta?: unknown }).meta : undefined;
    if (typeof meta !== 'object' || meta === null) return undefined;
    const { id, version } = meta as { id?: unknown; version?: unknown };
    return version === '2.0' && typeof id === 'string' ? id : undefined;
  },
};
