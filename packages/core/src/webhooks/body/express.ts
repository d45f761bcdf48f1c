import { utf8 } from '../../internal/encoding';
import { WebhookVerificationError } from '../errors';
import type { ReadBodyOptions } from './limits';
import { resolveMaxBytes, resolveTimeout, tooLarge } from './limits';
import { type NodeRequestLike, readNodeStream } from './node';

/** An Express (4 or 5) request, as far as the helper needs it. */
export interface ExpressRequestLike extends NodeRequestLike {
  /** Set by body parsers: a Buffer with `express.raw()`, a string with `express.text()`, an object with `express.json()`. */
  body?: unknown;
}

const API = 'readExpressBody';

/**
 * Returns the raw body of an Express request: the Buffer left by `express.raw()` when the route has
 * it, otherwise the bytes read straight from the request stream, both held to `maxBytes`.
 *
 * A body that `express.json()` or `express.urlencoded()` already parsed is gone: that rejects with
 * `body_already_parsed`, the mistake behind most "No signatures found" reports. Mount the webhook
 * route before the global JSON parser, or give it `express.raw({ type: '*\/*' })`.
 *
 * @example
 * ```ts
 * app.post('/webhooks/stripe', async (req, res) => {
 *   const body = await readExpressBody(req);
 *   const event = await verifyWebhook({ body, headers: req.headers }, { scheme: 'stripe', secret });
 *   res.json({ received: event.id });
 * });
 * ```
 */
export async function readExpressBody(request: ExpressRequestLike, options?: ReadBodyOptions): Promise<Uint8Array> {
  const maxBytes = resolveMaxBytes(options, API);
  const timeoutMs = resolveTimeout(options, API);
  const body = request.body;
  if (body instanceof Uint8Array) {
    if (body.length > maxBytes) throw tooLarge(maxBytes, API);
    return body;
  }
  if (typeof body === 'string') {
    const bytes = utf8(body);
    if (bytes.length > maxBytes) throw tooLarge(maxBytes, API);
    return bytes;
  }
  const parsed = typeof body === 'object' && body !== null;
  if (parsed && (Object.keys(body).length > 0 || request.readableEnded)) {
    throw new WebhookVerificationError(
      'body_already_parsed',
      'a body parser (express.json/urlencoded) already parsed this body; verify the raw bytes instead (express.raw())',
      {},
      API,
    );
  }
  return readNodeStream(request, maxBytes, API, timeoutMs, request.headers);
}
