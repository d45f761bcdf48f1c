import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { type ExpressRequestLike, readExpressBody } from '../webhooks/body/express';
import type { FastifyInstanceLike, FastifyPayloadLike } from '../webhooks/body/fastify';
import { readNodeStream } from '../webhooks/body/node';
import type { DeliveryInput, DeliveryResponse, WebhookHandler } from './handler';

/**
 * Framework adapters for a {@link WebhookHandler}. Each one only reads the
 * method, headers and raw body (with the webhooks module's raw-body helpers),
 * and writes the response: the decisions live in `handler.handle()`.
 * Framework types are described structurally, so no framework is a dependency.
 */

/**
 * The raw body of a Node or Express request: the bytes a raw-body parser left
 * in `req.body` (`express.raw()`), or the stream itself, read up to the limit.
 * A body already parsed into an object cannot be verified: `body_already_parsed`.
 */
const nodeBody =
  (req: IncomingMessage & ExpressRequestLike): DeliveryInput['body'] =>
  (maxBytes) =>
    // no timer here: the handler bounds the read with its bodyTimeoutMs, whatever the adapter
    readExpressBody(req, { maxBytes, timeoutMs: false });

function writeNode(res: ServerResponse, result: DeliveryResponse, req?: IncomingMessage): void {
  const headers: Record<string, string | number> = {
    ...result.headers,
    'content-length': Buffer.byteLength(result.body),
  };
  // a body left unread (a 413, a failed read) would be parsed as the next request on a kept-alive
  // connection: close it after this answer instead
  if (req !== undefined && !req.complete) headers.connection = 'close';
  res.writeHead(result.status, headers);
  res.end(result.body);
}

/** Answers 500, or drops the connection when a response can no longer be written. Never throws. */
function fail(res: ServerResponse): void {
  try {
    if (!res.headersSent) {
      writeNode(res, {
        status: 500,
        headers: { 'content-type': 'application/json' },
        body: '{"error":"internal_error"}',
      });
      return;
    }
  } catch {
    // fall through: the connection is the only way left to signal the failure
  }
  res.destroy();
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
    // a write that throws (headers already sent by other middleware) must not become an unhandled rejection
    handler
      .handle({ method: req.method ?? 'GET', headers: req.headers, body: nodeBody(req) })
      .then((result) => writeNode(res, result, req))
      .catch(() => fail(res));
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
): (req: IncomingMessage & ExpressRequestLike, res: ServerResponse, next?: (error?: unknown) => void) => void {
  const node = toNodeHandler(handler);
  return (req, res) => node(req, res);
}

/** The parts of a Fastify instance the plugin uses (a pass-through body parser and one route). */
export interface FastifyAppLike extends FastifyInstanceLike {
  post(path: string, handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown>): unknown;
}

/** The parts of a Fastify request the plugin reads. */
export interface FastifyRequestLike {
  method: string;
  headers: IncomingHttpHeaders;
  /** The payload stream the plugin's parser left, or nothing for a request without a body. */
  body: unknown;
  raw: { complete: boolean };
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

const isPayload = (body: unknown): body is FastifyPayloadLike =>
  typeof body === 'object' && body !== null && typeof (body as { on?: unknown }).on === 'function';

/**
 * A Fastify plugin that serves the endpoint at `path`. Its body parser,
 * scoped to the plugin (other routes keep their JSON parsing), hands the
 * request stream on unread, and the handler reads it like every other
 * adapter: within `maxBodyBytes` and `bodyTimeoutMs`, with the same 413 and
 * 408 answers, and `Connection: close` whenever the body was not read to
 * its end.
 *
 * @example
 * ```ts
 * await app.register(toFastify(webhook, { path: '/webhooks/stripe' }));
 * ```
 */
export function toFastify(
  handler: WebhookHandler,
  options: FastifyAdapterOptions,
): (instance: FastifyAppLike) => Promise<void> {
  return async (instance) => {
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    instance.post(options.path, async (request, reply) => {
      const { body } = request;
      const result = await handler.handle({
        method: request.method,
        headers: request.headers,
        body: (maxBytes) =>
          isPayload(body)
            ? // no timer here: the handler bounds the read with its bodyTimeoutMs
              readNodeStream(body, maxBytes, 'toFastify', undefined, request.headers)
            : Promise.resolve(new Uint8Array(0)),
      });
      // a body left unread (a 413, a stall) must not be parsed as the next request on a kept-alive connection
      const headers = request.raw.complete ? result.headers : { ...result.headers, connection: 'close' };
      return reply.code(result.status).headers(headers).send(result.body);
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
