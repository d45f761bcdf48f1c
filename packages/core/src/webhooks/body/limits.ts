import { WebhookVerificationError } from '../errors';

/** The default body limit: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;

/** The byte limit of the raw-body helpers. */
export interface BodyLimitOptions {
  /**
   * The largest body accepted, in bytes; reading stops as soon as it is passed and the promise
   * rejects with `body_too_large`.
   * @default 1_048_576 (1 MiB)
   */
  maxBytes?: number;
}

/** Options of the raw-body helpers that read the stream themselves. */
export interface ReadBodyOptions extends BodyLimitOptions {
  /**
   * How long the whole body may take to arrive, in milliseconds; past it reading stops and the
   * promise rejects with `body_timeout` (a sender that stalls or trickles). `false`: no limit, for
   * a caller that bounds the read itself.
   * @default 10_000
   */
  timeoutMs?: number | false;
}

/** The default time for a body to arrive: 10 s. */
export const DEFAULT_BODY_READ_TIMEOUT_MS = 10_000;

/** Validates `timeoutMs` and applies its default; `undefined` means no limit. @internal */
export function resolveTimeout(options: ReadBodyOptions | undefined, api: string): number | undefined {
  const timeoutMs = options?.timeoutMs ?? DEFAULT_BODY_READ_TIMEOUT_MS;
  if (timeoutMs === false) return undefined;
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2_147_483_647) {
    throw new WebhookVerificationError(
      'invalid_options',
      'timeoutMs must be a positive integer of milliseconds, or false',
      {},
      api,
    );
  }
  return timeoutMs;
}

/** The error for a body that did not arrive in time. @internal */
export function timedOut(timeoutMs: number, api: string): WebhookVerificationError {
  return new WebhookVerificationError('body_timeout', `the body did not arrive within ${timeoutMs} ms`, {}, api);
}

/** Validates `maxBytes` and applies its default. @internal */
export function resolveMaxBytes(options: BodyLimitOptions | undefined, api: string): number {
  const maxBytes = options?.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (typeof maxBytes !== 'number' || !(maxBytes >= 0) || !Number.isInteger(maxBytes)) {
    throw new WebhookVerificationError('invalid_options', 'maxBytes must be a non-negative integer', {}, api);
  }
  return maxBytes;
}

/** The error for a body over the limit. @internal */
export function tooLarge(maxBytes: number, api: string): WebhookVerificationError {
  return new WebhookVerificationError('body_too_large', `the body is larger than ${maxBytes} bytes`, {}, api);
}

/**
 * Rejects early when a `Content-Length` header already announces more than the limit; a
 * malformed value is ignored here (the byte count while reading still enforces the limit). @internal
 */
export function checkContentLength(value: string | null | undefined, maxBytes: number, api: string): void {
  if (value === null || value === undefined || !/^\d+$/.test(value)) return;
  if (Number(value) > maxBytes) throw tooLarge(maxBytes, api);
}

/** Joins chunks into one array (no copy for a single chunk). @internal */
export function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
