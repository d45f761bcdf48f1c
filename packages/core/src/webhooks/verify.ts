import { backend } from '#crypto';
import { fromUtf8, utf8, utf8Length } from '../internal/encoding';
import { readWebBody } from './body/request';
import { isWebhookVerificationError, WebhookVerificationError } from './errors';
import { schemeRequest } from './headers';
import { type ResolvedVerifyOptions, resolveVerifyOptions, resolveVerifyOptionsCached } from './options';
import { type SchemeRequest, type SchemeVerdict, settle, type WebhookScheme } from './scheme';
import type { VerifiedWebhook, VerifyWebhookOptions, WebhookHeaders, WebhookInput } from './types';

const API = 'verifyWebhook';

/** A function that verifies one delivery; what `createWebhookVerifier` returns. */
export type WebhookVerifier<P = unknown> = (input: WebhookInput) => Promise<VerifiedWebhook<P>>;

function fail(code: WebhookVerificationError['code'], message: string, scheme?: string): WebhookVerificationError {
  return new WebhookVerificationError(code, message, scheme === undefined ? {} : { scheme });
}

function isRequest(input: unknown): input is Request {
  return (
    (typeof Request === 'function' && input instanceof Request) ||
    (typeof input === 'object' &&
      input !== null &&
      typeof (input as Request).arrayBuffer === 'function' &&
      typeof (input as Request).url === 'string' &&
      typeof (input as Request).headers?.get === 'function')
  );
}

/** Checks a `{ body, headers }` input and its size; synchronous. */
function readPlainInput(input: WebhookInput, maxBytes: number): SchemeRequest {
  if (typeof input !== 'object' || input === null || !('body' in input) || !('headers' in input)) {
    throw fail('invalid_input', 'input must be a Request or { body, headers }');
  }
  const headers = input.headers as WebhookHeaders | null;
  if (typeof headers !== 'object' || headers === null)
    throw fail('invalid_input', 'headers must be Headers or a record');
  const raw: unknown = input.body;
  let body: string | Uint8Array;
  if (typeof raw === 'string') {
    // a string's UTF-8 form is at least as long as its UTF-16 length and at most three times it
    if (raw.length > maxBytes || (raw.length * 3 > maxBytes && utf8Length(raw) > maxBytes)) {
      throw fail('body_too_large', `the body is larger than ${maxBytes} bytes`);
    }
    body = raw;
  } else if (raw instanceof Uint8Array) {
    body = raw;
  } else if (raw instanceof ArrayBuffer) {
    body = new Uint8Array(raw);
  } else if (raw === undefined || raw === null) {
    body = '';
  } else if (typeof raw === 'object' && !ArrayBuffer.isView(raw)) {
    throw fail(
      'body_already_parsed',
      'the body is an already parsed object; pass the raw string or bytes (for Express use express.raw())',
    );
  } else {
    throw fail('invalid_input', 'body must be a string, Uint8Array, Buffer or ArrayBuffer');
  }
  if (typeof body !== 'string' && body.length > maxBytes) {
    throw fail('body_too_large', `the body is larger than ${maxBytes} bytes`);
  }
  return schemeRequest(body, headers);
}

/** The payload's `type` when the payload is an object with a non-empty string `type`. */
function payloadType(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const type = (payload as { type?: unknown }).type;
  return typeof type === 'string' && type !== '' ? type : undefined;
}

/** The event id a scheme reads from the signed payload, if it reads one and it is a non-empty string. */
function payloadIdOf(scheme: WebhookScheme, payload: unknown): string | undefined {
  const id = scheme.payloadId?.(payload);
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/**
 * Once the signature matched: the replay window, then the payload, the type and the id. The id is
 * the verdict's signed id, else the scheme's event id from the signed payload, else a digest of the
 * body; the body is parsed only when JSON was asked for or the id or the type must come from it.
 */
function finish<P>(
  config: ResolvedVerifyOptions,
  body: string | Uint8Array,
  verdict: SchemeVerdict,
): VerifiedWebhook<P> | Promise<VerifiedWebhook<P>> {
  const scheme = config.scheme;
  const timestamp = verdict.timestamp;
  // the window inline: as a function of its own it measured 0.1 µs slower per call
  if (timestamp !== null) {
    const now = Math.floor(config.now() / 1000);
    // a clock that gives no number would turn both window checks false: fail closed instead
    if (!Number.isFinite(now)) throw fail('invalid_options', 'now() must return epoch milliseconds', scheme.name);
    if (now - timestamp > config.tolerance) {
      throw fail(
        'timestamp_too_old',
        `the signature is ${now - timestamp} s old (tolerance ${config.tolerance} s)`,
        scheme.name,
      );
    }
    if (timestamp - now > config.maxFutureSkew) {
      const ahead = timestamp - now;
      throw fail(
        'timestamp_in_future',
        `the signature is dated ${ahead} s ahead (maxFutureSkew ${config.maxFutureSkew} s)`,
        scheme.name,
      );
    }
  }

  let id = verdict.id;
  let type = verdict.type;
  let payload: unknown;
  const wantJson = config.payload === 'json';
  const idFromPayload = id === undefined && scheme.payloadId !== undefined;
  if (wantJson || idFromPayload || type === undefined) {
    const text = typeof body === 'string' ? body : fromUtf8(body);
    let parsed: unknown;
    let parsedOk = false;
    if (text !== undefined) {
      try {
        parsed = JSON.parse(text);
        parsedOk = true;
      } catch {
        // reported below when JSON was asked for
      }
    }
    if (wantJson) {
      if (text === undefined) throw fail('invalid_body', 'the body is not valid UTF-8', scheme.name);
      if (!parsedOk) throw fail('invalid_body', 'the body is not valid JSON', scheme.name);
      payload = parsed;
    }
    if (parsedOk) {
      if (idFromPayload) id = payloadIdOf(scheme, parsed);
      type ??= payloadType(parsed);
    }
  }

  let rawBody: Uint8Array | undefined = typeof body === 'string' ? undefined : body;
  if (!wantJson) {
    rawBody ??= utf8(body as string);
    payload = rawBody;
  }
  const deliveryId = verdict.deliveryId ?? null;
  const name = scheme.name;
  if (id !== undefined) return verified<P>(id, type, deliveryId, timestamp, name, payload, body, rawBody);
  const digest = backend.sha256Hex(body);
  return settle(digest, (hex) =>
    verified<P>(`sha256:${hex}`, type, deliveryId, timestamp, name, payload, body, rawBody),
  );
}

/**
 * Builds the result. A string body's bytes are encoded only if `rawBody` is read: the property is an
 * own enumerable accessor (so `{ ...event }` and structuredClone keep it) installed from one shared
 * descriptor, which costs a fraction of an object literal with a getter closure. Positional
 * arguments: an object to carry them would be one more allocation per delivery.
 */
function verified<P>(
  id: string,
  type: string | undefined,
  deliveryId: string | null,
  timestamp: number | null,
  scheme: string,
  payload: unknown,
  body: string | Uint8Array,
  bytes: Uint8Array | undefined,
): VerifiedWebhook<P> {
  if (bytes !== undefined) return { id, type, deliveryId, timestamp, scheme, payload: payload as P, rawBody: bytes };
  return new LazyVerifiedWebhook<P>(id, type, deliveryId, timestamp, scheme, payload as P, body as string);
}

class LazyVerifiedWebhook<P> implements VerifiedWebhook<P> {
  declare readonly rawBody: Uint8Array;
  readonly #text: string;
  #bytes: Uint8Array | undefined;

  constructor(
    readonly id: string,
    readonly type: string | undefined,
    readonly deliveryId: string | null,
    readonly timestamp: number | null,
    readonly scheme: string,
    readonly payload: P,
    text: string,
  ) {
    this.#text = text;
    Object.defineProperty(this, 'rawBody', RAW_BODY);
  }

  static bytesOf(event: LazyVerifiedWebhook<unknown>): Uint8Array {
    event.#bytes ??= utf8(event.#text);
    return event.#bytes;
  }
}

const RAW_BODY: PropertyDescriptor = {
  enumerable: true,
  get(this: LazyVerifiedWebhook<unknown>): Uint8Array {
    return LazyVerifiedWebhook.bytesOf(this);
  },
};

/** The whole verification; synchronous on node:crypto for `{ body, headers }` inputs. */
function verifyWith<P>(
  config: ResolvedVerifyOptions,
  input: WebhookInput,
): VerifiedWebhook<P> | Promise<VerifiedWebhook<P>> {
  if (isRequest(input)) {
    return readWebBody(input, config.maxBodyBytes, API).then((body) =>
      verifyRequest<P>(config, schemeRequest(body, input.headers)),
    );
  }
  return verifyRequest<P>(config, readPlainInput(input, config.maxBodyBytes));
}

function verifyRequest<P>(
  config: ResolvedVerifyOptions,
  request: SchemeRequest,
): VerifiedWebhook<P> | Promise<VerifiedWebhook<P>> {
  const { body } = request;
  if (body.length === 0) throw fail('empty_body', 'the body is empty', config.scheme.name);
  const verdict = config.scheme.verify(request, config.secrets);
  // no closure on the synchronous path: it would cost a context allocation on every call
  return verdict instanceof Promise ? finishLater<P>(config, body, verdict) : finish<P>(config, body, verdict);
}

function finishLater<P>(
  config: ResolvedVerifyOptions,
  body: string | Uint8Array,
  verdict: Promise<SchemeVerdict>,
): Promise<VerifiedWebhook<P>> {
  return verdict.then((value) => finish<P>(config, body, value));
}

function normalizeError(error: unknown): WebhookVerificationError {
  if (error instanceof WebhookVerificationError || isWebhookVerificationError(error)) return error;
  return new WebhookVerificationError('invalid_input', 'the input could not be read', { cause: error });
}

function rejectUntyped(error: unknown): never {
  throw normalizeError(error);
}

/** Turns an outcome into a promise that only ever rejects with the typed error. */
function settled<P>(outcome: VerifiedWebhook<P> | Promise<VerifiedWebhook<P>>): Promise<VerifiedWebhook<P>> {
  return outcome instanceof Promise ? outcome.catch(rejectUntyped) : Promise.resolve(outcome);
}

/**
 * Verifies a webhook delivery: reads the raw body (up to `maxBodyBytes`), checks the scheme's
 * signature against the secret(s) in constant time, then the replay window, then parses the payload.
 *
 * Resolves to the verified event, or rejects with a {@link WebhookVerificationError} whose `code`
 * says why; no other exception escapes, whatever the input.
 *
 * @example
 * ```ts
 * import { verifyWebhook } from '@ballast/core/webhooks';
 *
 * export async function POST(request: Request): Promise<Response> {
 *   const event = await verifyWebhook(request, { scheme: 'stripe', secret: 'whsec_...' });
 *   return Response.json({ received: event.id });
 * }
 * ```
 */
export function verifyWebhook<P = unknown>(
  input: WebhookInput,
  options: VerifyWebhookOptions & { payload: 'raw' },
): Promise<VerifiedWebhook<Uint8Array>>;
export function verifyWebhook<P = unknown>(
  input: WebhookInput,
  options: VerifyWebhookOptions,
): Promise<VerifiedWebhook<P>>;
export function verifyWebhook<P = unknown>(
  input: WebhookInput,
  options: VerifyWebhookOptions,
): Promise<VerifiedWebhook<P>> {
  try {
    return settled(verifyWith<P>(resolveVerifyOptionsCached(options, API), input));
  } catch (error) {
    return Promise.reject(normalizeError(error));
  }
}

/**
 * Checks the options once and returns a verifier for many deliveries: the shape the inbox's
 * `verify` option takes.
 *
 * Throws `invalid_options` / `invalid_secret` at once for a bad configuration.
 *
 * @example
 * ```ts
 * const verify = createWebhookVerifier({ scheme: 'stripe', secret: ['whsec_new', 'whsec_old'] });
 * const event = await verify(request);
 * ```
 */
export function createWebhookVerifier(options: VerifyWebhookOptions & { payload: 'raw' }): WebhookVerifier<Uint8Array>;
export function createWebhookVerifier<P = unknown>(options: VerifyWebhookOptions): WebhookVerifier<P>;
export function createWebhookVerifier<P = unknown>(options: VerifyWebhookOptions): WebhookVerifier<P> {
  const config = resolveVerifyOptions(options, 'createWebhookVerifier');
  return (input) => {
    try {
      return settled(verifyWith<P>(config, input));
    } catch (error) {
      return Promise.reject(normalizeError(error));
    }
  };
}
