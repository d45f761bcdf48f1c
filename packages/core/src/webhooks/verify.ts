import { backend } from '#crypto';
import { readWebBody } from './body/request';
import { fromUtf8, toHex, utf8, utf8Length } from './encoding';
import { isWebhookVerificationError, WebhookVerificationError } from './errors';
import { headerLookup } from './headers';
import { type ResolvedVerifyOptions, resolveVerifyOptions } from './options';
import type { SchemeRequest } from './scheme';
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

/** Turns the caller's input into the raw body and a header lookup, enforcing the size limit. */
async function readInput(input: WebhookInput, maxBytes: number): Promise<SchemeRequest> {
  if (isRequest(input)) {
    const body = await readWebBody(input, maxBytes, API);
    return { body, header: headerLookup(input.headers) };
  }
  if (typeof input !== 'object' || input === null || !('body' in input) || !('headers' in input)) {
    throw fail('invalid_input', 'input must be a Request or { body, headers }');
  }
  const headers = input.headers as WebhookHeaders | null;
  if (typeof headers !== 'object' || headers === null)
    throw fail('invalid_input', 'headers must be Headers or a record');
  const raw: unknown = input.body;
  let body: string | Uint8Array;
  if (typeof raw === 'string') {
    // a UTF-8 string is never shorter in bytes than in UTF-16 units, nor longer than three times
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
  return { body, header: headerLookup(headers) };
}

function eventIdOf(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const id = (payload as { id?: unknown }).id;
  if (typeof id === 'string' && id !== '') return id;
  if (typeof id === 'number' && Number.isFinite(id)) return String(id);
  const meta = (payload as { meta?: unknown }).meta;
  return meta === undefined ? undefined : eventIdOf({ id: (meta as { id?: unknown } | null)?.id });
}

async function run<P>(config: ResolvedVerifyOptions, input: WebhookInput): Promise<VerifiedWebhook<P>> {
  const request = await readInput(input, config.maxBodyBytes);
  const { body } = request;
  const scheme = config.scheme;
  if (body.length === 0) throw fail('empty_body', 'the body is empty', scheme.name);

  const verdict = await scheme.verify(request, config.secrets);

  const timestamp = verdict.timestamp;
  if (timestamp !== null) {
    const now = Math.floor(config.now() / 1000);
    if (now - timestamp > config.tolerance) {
      throw fail(
        'timestamp_too_old',
        `the signature is ${now - timestamp} s old (tolerance ${config.tolerance} s)`,
        scheme.name,
      );
    }
    if (timestamp - now > config.maxFutureSkew) {
      throw fail(
        'timestamp_in_future',
        `the signature is dated ${timestamp - now} s ahead (maxFutureSkew ${config.maxFutureSkew} s)`,
        scheme.name,
      );
    }
  }

  let id = verdict.id;
  let payload: unknown;
  const wantJson = config.payload === 'json';
  if (wantJson || id === undefined) {
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
    id ??= parsedOk ? eventIdOf(parsed) : undefined;
    id ??= `sha256:${toHex(await backend.sha256(body))}`;
  }

  let rawBody: Uint8Array | undefined = typeof body === 'string' ? undefined : body;
  if (!wantJson) {
    rawBody ??= utf8(body as string);
    payload = rawBody;
  }
  return {
    id,
    timestamp,
    scheme: scheme.name,
    payload: payload as P,
    get rawBody(): Uint8Array {
      rawBody ??= utf8(body as string);
      return rawBody;
    },
  };
}

function normalizeError(error: unknown): WebhookVerificationError {
  if (error instanceof WebhookVerificationError) return error;
  if (isWebhookVerificationError(error)) return error;
  return new WebhookVerificationError('invalid_input', 'the input could not be read', { cause: error });
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
export async function verifyWebhook<P = unknown>(
  input: WebhookInput,
  options: VerifyWebhookOptions & { payload: 'raw' },
): Promise<VerifiedWebhook<Uint8Array>>;
export async function verifyWebhook<P = unknown>(
  input: WebhookInput,
  options: VerifyWebhookOptions,
): Promise<VerifiedWebhook<P>>;
export async function verifyWebhook<P = unknown>(
  input: WebhookInput,
  options: VerifyWebhookOptions,
): Promise<VerifiedWebhook<P>> {
  try {
    return await run<P>(resolveVerifyOptions(options, API), input);
  } catch (error) {
    throw normalizeError(error);
  }
}

/**
 * Checks the options once and returns a verifier for many deliveries: the fastest way to verify
 * repeatedly, and the shape the inbox's `verify` option takes.
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
  return async (input) => {
    try {
      return await run<P>(config, input);
    } catch (error) {
      throw normalizeError(error);
    }
  };
}
