import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { WebhookVerificationError } from '../webhooks/errors';
import type { DeliveryInput, DeliveryResponse, WebhookHandler } from './handler';

/**
 * Framework adapters for a {@link WebhookHandler}. Each one only reads the
 * method, headers and raw body, and writes the response: the decisions live in
 * `handler.handle()`. Framework types are described structurally, so no
 * framework is a dependency.
 */

/** The body a framework's parser left on the request, if any. */
type ParsedBody = { body?: unknown };

/** Reads a Node request body as bytes, stopping at `maxBytes` (then `body_too_large`). */
function readNodeStream(req: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxBytes) {
    req.resume(); // drain without buffering, so the connection can be reused
    return Promise.reject(tooLarge(maxBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        cleanup();
        req.resume();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
    };
    const onError = (cause: unknown) => {
      cleanup();
      reject(new WebhookVerificationError('body_read_failed', 'reading the request body failed', { cause }, 'inbox'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

const tooLarge = (maxBytes: number) =>
  new WebhookVerificationError('body_too_large', `the body is larger than ${maxBytes} bytes`, {}, 'inbox');

/**
 * The raw body of a Node request: the bytes a raw-body parser left in
 * `req.body` (Express `express.raw()`), or the stream itself. A body already
 * parsed into an object cannot be verified: `body_already_parsed`.
 */
function nodeBody(req: IncomingMessage & ParsedBody): DeliveryInput['body'] {
  const parsed = req.body;
  if (parsed instanceof Uint8Array) return parsed;
  if (typeof parsed === 'string') return new TextEncoder().encode(parsed);
  if (parsed !== undefined && parsed !== null && !(typeof parsed === 'object' && Object.keys(parsed).length === 0)) {
    return () =>
      Promise.reject(
        new WebhookVerificationError(
          'body_already_parsed',
          'the body was parsed before verification: mount the webhook route before any JSON body parser, or use express.raw()',
          {},
          'inbox',
        ),
      );
  }
  return (maxBytes) => readNodeStream(req, maxBytes);
}

function writeNode(res: ServerResponse, result: DeliveryResponse): void {
  res.writeHead(result.status, { ...result.headers, 'content-length': Buffer.byteLength(result.body) });
  res.end(result.body);
}

function fail(res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  writeNode(res, { status: 500, headers: { 'content-type': 'application/json' }, body: '{"error":"internal_error"}' });
}

/**
 * A `node:http` request listener for the endpoint.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * createServer(toNodeHandler(webhook)).listen(3000);
 * ```
 */
export function toNodeHandler(handler: WebhookHandler): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handler.handle({ method: req.method ?? 'GET', headers: req.headers, body: nodeBody(req) }).then(
      (result) => writeNode(res, result),
      () => fail(res),
    );
  };
}

/**
 * An Express route handler. Mount it before any JSON body parser, or behind
 * `express.raw({ type: '*\/*' })`: the signature is over the raw bytes.
 *
 * @example
 * ```ts
 * app.post('/webhooks/stripe', toExpress(webhook));
 * ```
 */
export function toExpress(
  handler: WebhookHandler,
): (req: IncomingMessage & ParsedBody, res: ServerResponse, next?: (error?: unknown) => void) => void {
  const node = toNodeHandler(handler);
  return (req, res) => node(req, res);
}

/** The parts of a Fastify instance the plugin uses. */
export interface FastifyInstanceLike {
  removeAllContentTypeParsers(): void;
  addContentTypeParser(
    contentType: string,
    options: { parseAs: 'buffer'; bodyLimit?: number },
    parser: (req: unknown, body: Buffer, done: (error: Error | null, body?: Buffer) => void) => void,
  ): void;
  post(
    path: string,
    options: { bodyLimit?: number },
    handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown>,
  ): unknown;
}

/** The parts of a Fastify request the plugin reads. */
export interface FastifyRequestLike {
  method: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** The parts of a Fastify reply the plugin writes. */
export interface FastifyReplyLike {
  code(status: number): FastifyReplyLike;
  headers(values: Record<string, string>): FastifyReplyLike;
  send(body: string): unknown;
}

/** Options for {@link toFastify}. */
export interface FastifyAdapterOptions {
  /** The route path, e.g. `/webhooks/stripe`. */
  path: string;
}

/**
 * A Fastify plugin that serves the endpoint at `path` with a raw-body parser
 * scoped to the plugin (other routes keep their JSON parsing). Fastify answers
 * 413 itself for a body over the handler's `maxBodyBytes`.
 *
 * @example
 * ```ts
 * await app.register(toFastify(webhook, { path: '/webhooks/stripe' }));
 * ```
 */
export function toFastify(
  handler: WebhookHandler,
  options: FastifyAdapterOptions,
): (instance: FastifyInstanceLike) => Promise<void> {
  const bodyLimit = handler.maxBodyBytes;
  return async (instance) => {
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
    instance.post(options.path, { bodyLimit }, async (request, reply) => {
      const body = request.body instanceof Uint8Array ? request.body : new Uint8Array(0);
      const result = await handler.handle({ method: request.method, headers: request.headers, body });
      return reply.code(result.status).headers(result.headers).send(result.body);
    });
  };
}

/** The part of a Hono context the adapter reads. */
export interface HonoContextLike {
  req: { raw: Request };
}

/**
 * A Hono handler (works on every runtime Hono runs on).
 *
 * @example
 * ```ts
 * app.post('/webhooks/stripe', toHono(webhook));
 * ```
 */
export function toHono(handler: WebhookHandler): (c: HonoContextLike) => Promise<Response> {
  return (c) => handler(c.req.raw);
}

/**
 * A Next.js App Router route handler (`app/webhooks/stripe/route.ts`). Next
 * route handlers are Web `Request` handlers, so this is the handler itself,
 * typed for `export const POST`.
 *
 * @example
 * ```ts
 * export const POST = toNextRoute(webhook);
 * ```
 */
export function toNextRoute(handler: WebhookHandler): (request: Request) => Promise<Response> {
  return (request) => handler(request);
}
