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

const API = 'readRequestBody';

/**
 * Reads a Web `Request` body as raw bytes, stopping (and cancelling the stream) as soon as it
 * passes `maxBytes`. This is the helper for every Web-standard handler: Hono (`c.req.raw`), Next.js
 * route handlers, Deno, Bun and Workers.
 *
 * Rejects with `body_too_large`, `body_timeout` (the body took longer than `timeoutMs`, 10 s by
 * default), `body_already_parsed` (something read the body first) or `body_read_failed`.
 *
 * @example
 * ```ts
 * export async function POST(request: Request) {
 *   const body = await readRequestBody(request, { maxBytes: 64 * 1024 });
 *   return new Response(`got ${body.length} bytes`);
 * }
 * ```
 */
export async function readRequestBody(request: Request, options?: ReadBodyOptions): Promise<Uint8Array> {
  return readWebBody(request, resolveMaxBytes(options, API), API, resolveTimeout(options, API));
}

/**
 * {@link readRequestBody} with the limits already checked, reporting errors under `api`; no time
 * limit without `timeoutMs`. @internal
 */
export async function readWebBody(
  request: Request,
  maxBytes: number,
  api: string,
  timeoutMs?: number,
): Promise<Uint8Array> {
  if (request.bodyUsed) {
    throw new WebhookVerificationError(
      'body_already_parsed',
      'the request body was already read; verify before parsing it',
      {},
      api,
    );
  }
  checkContentLength(request.headers.get('content-length'), maxBytes, api);
  const stream = request.body;
  if (stream === null) return new Uint8Array(0);
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = stream.getReader();
  } catch (cause) {
    throw new WebhookVerificationError('body_already_parsed', 'the request body stream is locked', { cause }, api);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  // past the deadline the stream is cancelled: its pending read ends, and the body is refused, not cut short
  let late: WebhookVerificationError | undefined;
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          late = timedOut(timeoutMs, api);
          reader.cancel().catch(() => {});
        }, timeoutMs);
  try {
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (cause) {
        if (late) throw late;
        throw new WebhookVerificationError('body_read_failed', 'reading the request body failed', { cause }, api);
      }
      if (late) throw late;
      if (step.done) break;
      const chunk = step.value;
      if (!(chunk instanceof Uint8Array)) {
        reader.cancel().catch(() => {});
        throw new WebhookVerificationError('body_read_failed', 'the request body stream yielded non-bytes', {}, api);
      }
      total += chunk.length;
      if (total > maxBytes) {
        reader.cancel().catch(() => {});
        throw tooLarge(maxBytes, api);
      }
      chunks.push(chunk);
    }
  } finally {
    clearTimeout(timer);
  }
  return concat(chunks, total);
}
