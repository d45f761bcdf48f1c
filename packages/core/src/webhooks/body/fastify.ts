import { WebhookVerificationError, type WebhookVerificationErrorCode } from '../errors';
import type { BodyLimitOptions, ReadBodyOptions } from './limits';
import { resolveMaxBytes, resolveTimeout, tooLarge } from './limits';
import { type NodeRequestLike, readNodeStream } from './node';

/** The request stream Fastify hands a content-type parser: the raw request, or what a preParsing hook made of it. */
export type FastifyPayloadLike = Omit<NodeRequestLike, 'headers'> & Partial<Pick<NodeRequestLike, 'headers'>>;

/** The part of a Fastify instance {@link fastifyRawBody} uses. */
export interface FastifyInstanceLike {
  removeAllContentTypeParsers(): void;
  addContentTypeParser(
    contentType: string,
    parser: (
      request: { headers: NodeRequestLike['headers'] },
      payload: FastifyPayloadLike,
      done: (error: Error | null, body?: unknown) => void,
    ) => void,
  ): void;
}

const API = 'fastifyRawBody';

/** The HTTP status Fastify answers for each way reading the body can fail. */
const STATUS: Partial<Record<WebhookVerificationErrorCode, number>> = {
  body_too_large: 413,
  body_timeout: 408,
  body_read_failed: 400,
};

/**
 * Reads a parser's payload stream within the limits, the `Content-Length` checked from the
 * request's headers (a preParsing hook may have swapped the stream for one without them). @internal
 */
export async function readFastifyPayload(
  request: { headers: NodeRequestLike['headers'] },
  payload: FastifyPayloadLike,
  maxBytes: number,
  api: string,
  timeoutMs?: number,
): Promise<Uint8Array> {
  return readNodeStream(payload, maxBytes, api, timeoutMs, request.headers);
}

/**
 * Makes every route of a Fastify instance (use it inside an encapsulated plugin that holds only the
 * webhook routes) receive the body as raw bytes, whatever its content type, read before the handler
 * runs within `maxBytes` and `timeoutMs` (10 s by default). A body over the limit gets 413, one
 * that stalls or trickles past the deadline 408, a client that aborts 400: Fastify answers with
 * the error's `code` (`body_too_large`, `body_timeout`, `body_read_failed`) and closes the
 * connection. Read the bytes in the handler with {@link readFastifyBody}.
 *
 * @example
 * ```ts
 * await app.register(async (hooks) => {
 *   fastifyRawBody(hooks, { maxBytes: 256 * 1024 });
 *   hooks.post('/webhooks/github', async (request) => {
 *     const body = readFastifyBody(request);
 *     const event = await verifyWebhook({ body, headers: request.headers }, { scheme: 'github', secret });
 *     return { received: event.id };
 *   });
 * });
 * ```
 */
export function fastifyRawBody(instance: FastifyInstanceLike, options?: ReadBodyOptions): void {
  const maxBytes = resolveMaxBytes(options, API);
  const timeoutMs = resolveTimeout(options, API);
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', (request, payload, done) => {
    readFastifyPayload(request, payload, maxBytes, API, timeoutMs).then(
      (body) => done(null, body),
      (error: unknown) => {
        // Fastify answers a parser's error with its statusCode (500 without one)
        const status = error instanceof WebhookVerificationError ? STATUS[error.code] : undefined;
        done(Object.assign(error instanceof Error ? error : new Error(String(error)), { statusCode: status ?? 500 }));
      },
    );
  });
}

/**
 * Returns the raw body Fastify kept for the request (see {@link fastifyRawBody}). Rejects a body
 * Fastify parsed as JSON or text with `body_already_parsed`, and one over `maxBytes` with
 * `body_too_large`; a request without a body gives empty bytes.
 */
export function readFastifyBody(request: { body?: unknown }, options?: BodyLimitOptions): Uint8Array {
  const maxBytes = resolveMaxBytes(options, 'readFastifyBody');
  const body = request.body;
  if (body === undefined || body === null) return new Uint8Array(0);
  if (!(body instanceof Uint8Array)) {
    throw new WebhookVerificationError(
      'body_already_parsed',
      'Fastify parsed this body; register fastifyRawBody() in the scope of the webhook route',
      {},
      'readFastifyBody',
    );
  }
  if (body.length > maxBytes) throw tooLarge(maxBytes, 'readFastifyBody');
  return body;
}
