import type { BreakerVerdict } from './circuit-breaker';
import { ResilienceError } from './errors';
import { discard } from './internal';
import { readTextUntil } from './read-body';

/**
 * What one response means, decided once per attempt and shared by every layer:
 *
 * | verdict | retry | breaker | cache |
 * | --- | --- | --- | --- |
 * | `success` | handed back | success | a 2xx is stored |
 * | `failure` | handed back | failure | never stored; a stale entry stands in |
 * | `retryable` | retried when safe | failure | never stored; a stale entry stands in |
 * | `throttled` | retried after the server's wait | ignored | never stored; a stale entry stands in |
 *
 * A 4xx other than 408/429 is a `success` for the layers (the provider
 * answered; the request was at fault): handed back, counted as a breaker
 * success, not stored (only 2xx are).
 */
export type ResponseVerdict = 'success' | 'failure' | 'retryable' | 'throttled';

/** What a {@link Classifier} sees about the attempt besides the response. */
export interface ClassifyContext {
  /** Upper-case HTTP method. */
  readonly method: string;
  readonly url: string;
  /** The group key (host by default). */
  readonly key: string;
  /** The attempt, 1-based. */
  readonly attempt: number;
  /** What the default rule says (status list of the retry policy). */
  readonly defaultVerdict: ResponseVerdict;
  /**
   * Reads a copy of the body as text, leaving the caller's body unread. The
   * read stops with the caller's abort reason or `deadline_exceeded` when the
   * call's signal or deadline fires first.
   */
  text(): Promise<string>;
  /** `text()` parsed as JSON; undefined when the body is not JSON. */
  json(): Promise<unknown>;
}

/**
 * Classifies one response. Return a verdict, or undefined to keep the
 * default. May be async and may read the body through `ctx.text()` /
 * `ctx.json()` (never through `response` itself: that is the caller's copy).
 *
 * @example
 * ```ts
 * // Google's legacy web services report quota and server errors in a 200
 * const classify: Classifier = async (response, ctx) => {
 *   if (response.status !== 200) return undefined;
 *   const body = (await ctx.json()) as { status?: string } | undefined;
 *   if (body?.status === 'OVER_QUERY_LIMIT') return 'throttled';
 *   if (body?.status === 'UNKNOWN_ERROR') return 'retryable';
 *   return undefined;
 * };
 * ```
 */
export type Classifier = (
  response: Response,
  ctx: ClassifyContext,
) => ResponseVerdict | undefined | Promise<ResponseVerdict | undefined>;

/** The HTTP statuses retried by default, and so classified `retryable` (or `throttled` for 429). */
export const DEFAULT_RETRY_STATUSES: readonly number[] = [408, 429, 500, 502, 503, 504];

const DEFAULT_STATUS_SET = new Set(DEFAULT_RETRY_STATUSES);

/** The default verdict: a listed status is `retryable` (429 `throttled`), another 5xx a `failure`, anything else a `success`. */
export function defaultVerdict(status: number, statuses: ReadonlySet<number> = DEFAULT_STATUS_SET): ResponseVerdict {
  if (statuses.has(status)) return status === 429 ? 'throttled' : 'retryable';
  return status >= 500 ? 'failure' : 'success';
}

/** How a verdict counts for the breaker. */
export function breakerVerdictOf(verdict: ResponseVerdict | undefined): BreakerVerdict {
  return verdict === 'success' ? 'success' : verdict === 'throttled' || verdict === undefined ? 'ignore' : 'failure';
}

/** What the classifier layer knows about the call. @internal */
export interface ClassifiedCall {
  readonly method: string;
  readonly url: string;
  readonly key: string;
  readonly attempt: number;
  readonly signal: AbortSignal | undefined;
  readonly deadlineAt: number;
  /** The per-attempt limit, which also bounds reading the body (infinite: none). */
  readonly timeoutMs: number;
}

/**
 * Runs `classify` on one response. The body copy is read at most once and
 * bounded by the call's signal and deadline; when that bound fires, the
 * response is discarded and the abort reason (or `deadline_exceeded`) thrown.
 * A classifier that throws any other error lets the error through, with the
 * response discarded: the call fails with what the classifier threw.
 * @internal
 */
export async function runClassifier(
  classify: Classifier,
  response: Response,
  call: ClassifiedCall,
  statuses: ReadonlySet<number> | undefined,
): Promise<ResponseVerdict> {
  const fallback = defaultVerdict(response.status, statuses);
  let text: Promise<string> | undefined;
  const ctx: ClassifyContext = {
    method: call.method,
    url: call.url,
    key: call.key,
    attempt: call.attempt,
    defaultVerdict: fallback,
    text() {
      text ??= readText(response.clone(), call.signal, call.deadlineAt, call.timeoutMs, call.key);
      return text;
    },
    async json() {
      const body = await this.text();
      try {
        return JSON.parse(body) as unknown;
      } catch {
        return undefined;
      }
    },
  };
  try {
    return (await classify(response, ctx)) ?? fallback;
  } catch (error) {
    discard(response);
    throw error;
  }
}

/**
 * Reads a body as text, stopping when `signal` aborts, `deadlineAt` passes (`deadline_exceeded`) or
 * the attempt's `timeoutMs` passes (`timeout`, retried like a timed-out attempt): a server that sends
 * its headers and then stalls must not hold the classification forever.
 */
function readText(
  copy: Response,
  signal: AbortSignal | undefined,
  deadlineAt: number,
  timeoutMs: number,
  key: string,
): Promise<string> {
  const attemptEndsAt = Date.now() + timeoutMs;
  const deadlineFirst = deadlineAt <= attemptEndsAt;
  return readTextUntil(copy, signal, deadlineFirst ? deadlineAt : attemptEndsAt, () =>
    deadlineFirst
      ? new ResilienceError('deadline', 'deadline_exceeded', 'the deadline passed while the body was classified', {
          key,
        })
      : new ResilienceError(
          'timeout',
          'timeout',
          `the body took over ${timeoutMs} ms to arrive while it was classified`,
          {
            key,
            waitMs: timeoutMs,
          },
        ),
  );
}
