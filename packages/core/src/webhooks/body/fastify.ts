import { WebhookVerificationError } from '../errors';
import type { BodyLimitOptions } from './limits';
import { resolveMaxBytes, tooLarge } from './limits';

/** The part of a Fastify instance {@link fastifyRawBody} uses. */
export interface FastifyInstanceLike {
  removeAllContentTypeParsers(): void;
  addContentTypeParser(
    contentType: string,
    options: { parseAs: 'buffer'; bodyLimit: number },
    parser: (request: never, body: Uint8Array, done: (error: Error | null, body?: unknown) => void) => void,
  ): void;
}

/**
 * Makes every route of a Fastify instance (use it inside an encapsulated plugin that holds only the
 * webhook routes) receive the body as raw bytes, whatever its content type, and makes Fastify
 * answer 413 itself for bodies over `maxBytes`. Read it in the handler with {@link readFastifyBody}.
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
export function fastifyRawBody(instance: FastifyInstanceLike, options?: BodyLimitOptions): void {
  const maxBytes = resolveMaxBytes(options, 'fastifyRawBody');
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBytes }, (_request, body, done) => {
    done(null, body);
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
