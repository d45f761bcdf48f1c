import { utf8 } from '../../internal/encoding';
import { WebhookVerificationError } from '../errors';
import {
  checkContentLength,
  concat,
  type ReadBodyOptions,
  resolveMaxBytes,
  resolveTimeout,
  timedOut,
  tooLarge,
} from './limits';

/**
 * The part of a node:http `IncomingMessage` (or any Readable request) the helper uses; declared
 * here so that the webhooks entry needs no Node types or runtime imports.
 */
export interface NodeRequestLike {
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly readableEnded?: boolean;
  on(event: 'data', listener: (chunk: Uint8Array | string) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'aborted', listener: () => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  pause?(): unknown;
}

const API = 'readNodeBody';

/**
 * {@link readNodeBody} with the limits already checked, reporting errors under `api`; no time limit
 * without `timeoutMs`. @internal
 */
export function readNodeStream(
  request: Omit<NodeRequestLike, 'headers'>,
  maxBytes: number,
  api: string,
  timeoutMs: number | undefined,
  headers: NodeRequestLike['headers'],
): Promise<Uint8Array> {
  if (request.readableEnded) {
    return Promise.reject(
      new WebhookVerificationError(
        'body_already_parsed',
        'the request body was already consumed; read the raw body before any body parser',
        {},
        api,
      ),
    );
  }
  const length = headers['content-length'];
  try {
    checkContentLength(typeof length === 'string' ? length : undefined, maxBytes, api);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    // past the deadline reading stops: the caller answers and the connection is closed (the rest never came)
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => fail(timedOut(timeoutMs, api)), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      request.removeListener('data', onData);
      request.removeListener('end', onEnd);
      request.removeListener('error', onError);
      request.removeListener('aborted', onAborted);
      request.removeListener('close', onClose);
    };
    const fail = (error: WebhookVerificationError) => {
      cleanup();
      // stop reading; the caller answers (413, 400) and the server closes or drains the connection
      request.pause?.();
      reject(error);
    };
    const onData = (chunk: Uint8Array | string) => {
      const bytes = typeof chunk === 'string' ? utf8(chunk) : chunk;
      total += bytes.length;
      if (total > maxBytes) fail(tooLarge(maxBytes, api));
      else chunks.push(bytes);
    };
    const onEnd = () => {
      cleanup();
      resolve(concat(chunks, total));
    };
    const onError = (cause: Error) =>
      fail(new WebhookVerificationError('body_read_failed', 'reading the request body failed', { cause }, api));
    const onAborted = () =>
      fail(new WebhookVerificationError('body_read_failed', 'the client aborted the request', {}, api));
    const onClose = () => {
      if (!request.readableEnded) onAborted();
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('aborted', onAborted);
    request.on('close', onClose);
  });
}

/**
 * Reads a node:http `IncomingMessage` body as raw bytes, rejecting with `body_too_large` as soon as
 * it passes `maxBytes` (or at once when `Content-Length` announces more). Use it in node:http
 * servers and in Next.js pages-router API routes with `bodyParser: false`.
 *
 * Rejects with `body_too_large`, `body_timeout` (the body took longer than `timeoutMs`, 10 s by
 * default), `body_already_parsed` (the stream was consumed before) or `body_read_failed` (error or
 * client abort).
 *
 * @example
 * ```ts
 * createServer(async (req, res) => {
 *   const body = await readNodeBody(req, { maxBytes: 256 * 1024 });
 *   const event = await verifyWebhook({ body, headers: req.headers }, { scheme: 'github', secret });
 *   res.end(event.id);
 * });
 * ```
 */
export function readNodeBody(request: NodeRequestLike, options?: ReadBodyOptions): Promise<Uint8Array> {
  try {
    return readNodeStream(request, resolveMaxBytes(options, API), API, resolveTimeout(options, API), request.headers);
  } catch (error) {
    return Promise.reject(error);
  }
}
