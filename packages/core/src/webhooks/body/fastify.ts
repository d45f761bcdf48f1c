import { WEBHOOK_ERROR_STATUS, WebhookVerificationError } from '../errors';
import type { BodyLimitOptions, ReadBodyOptions } from './limits';
import { resolveMaxBytes, resolveTimeout, tooLarge } from './limits';
import { type NodeRequestLike, readNodeStream } from './node';

/**
 * The request stream Fastify hands a content-type parser: the raw request, or what a preParsing
 * hook made of it (so its headers are read from the request).
 */
export type FastifyPayloadLike = Omit<NodeRequestLike, 'headers'>;

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
    readNodeStream(payload, maxBytes, API, timeoutMs, request.headers).then(
      (body) => done(null, body),
      (error: unknown) => {
        // Fastify answers a parser's error with its statusCode (500 without one)
        const status = error instanceof WebhookVerificationError ? WEBHOOK_ERROR_STATUS[error.code] : 500;
        done(Object.assign(error instanceof Error ? error : new Error(String(error)), { statusCode: status }));
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
