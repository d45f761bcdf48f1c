import { ResilienceError } from './errors';

/** Options of {@link readResponseText}. */
export interface ReadResponseTextOptions {
  /**
   * How long the whole body may take to arrive, in milliseconds from the call. A server that sends
   * its headers and then stalls or trickles would otherwise hold the read forever: `resilientFetch`'s
   * per-attempt `timeoutMs` ends when the headers arrive.
   * @default no limit
   */
  timeoutMs?: number;
  /** Stops the read: rejects with the signal's reason. */
  signal?: AbortSignal;
  /** The key named in the timeout error (e.g. the call's host). */
  key?: string;
}

/**
 * Reads a response body as UTF-8 text within a time limit. Rejects with a
 * `ResilienceError` `timeout` when the body is not complete within `timeoutMs`
 * (the stream is cancelled, so the connection is released), with the signal's
 * reason when `signal` aborts, and with the stream's own error when the
 * connection breaks mid-body (`TypeError: terminated` from undici).
 *
 * @example
 * ```ts
 * const response = await api('https://api.example.com/items', { timeoutMs: 10_000 });
 * const text = await readResponseText(response, { timeoutMs: 10_000 });
 * ```
 */
export function readResponseText(response: Response, options: ReadResponseTextOptions = {}): Promise<string> {
  const { timeoutMs, signal, key = '' } = options;
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0)) {
    return Promise.reject(
      new ResilienceError(
        'readResponseText',
        'invalid_options',
        `timeoutMs must be a positive number, got ${String(timeoutMs)}`,
      ),
    );
  }
  const endsAt = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
  return readTextUntil(
    response,
    signal,
    endsAt,
    () =>
      new ResilienceError('timeout', 'timeout', `the response body did not arrive within ${timeoutMs} ms`, {
        key,
        waitMs: timeoutMs ?? 0,
      }),
  );
}

/**
 * Reads a body as text, stopping when `signal` aborts (its reason) or `endsAt` passes (`late()`).
 * @internal
 */
export async function readTextUntil(
  response: Response,
  signal: AbortSignal | undefined,
  endsAt: number,
  late: () => unknown,
): Promise<string> {
  const body = response.body;
  if (body === null) return '';
  if (signal?.aborted) {
    // not awaited: a stream whose cancel never settles must not hold the caller
    body.cancel().catch(() => {});
    throw signal.reason;
  }
  const reader = body.getReader();
  let stop: ((reason: unknown) => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    stop = reject;
  });
  stopped.catch(() => {});
  const onAbort = () => stop?.(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    endsAt === Number.POSITIVE_INFINITY
      ? undefined
      : setTimeout(() => stop?.(late()), Math.max(0, Math.min(endsAt - Date.now(), 2_147_483_647)));
  const decoder = new TextDecoder();
  let out = '';
  try {
    for (;;) {
      const chunk = await Promise.race([reader.read(), stopped]);
      if (chunk.done) break;
      out += decoder.decode(chunk.value, { stream: true });
    }
    return out + decoder.decode();
  } catch (error) {
    reader.cancel(error).catch(() => {});
    throw error;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
