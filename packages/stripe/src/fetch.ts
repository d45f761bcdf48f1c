import {
  type CircuitBreakerOptions,
  type CircuitBreakers,
  type FetchLike,
  isResilienceError,
  type RateLimiter,
  type ResilienceEventHandler,
  type RetryBudget,
  type RetryBudgetOptions,
  rateLimiter,
  resilientFetch,
} from '@ballast/core/resilience';
import { StripeUsageError } from './errors';
import { type StripeMode, stripeRateLimitForMode } from './limits';
import { stripeShouldRetry } from './retry';

/** The resilience settings shared by {@link stripeFetch} and `stripeClient`. */
export interface StripeResilienceOptions {
  /**
   * The fetch underneath the resilience layers (a test double, a proxy agent).
   * @default the global fetch
   */
  fetch?: FetchLike;
  /**
   * The rate limiter every attempt passes through; `false` for none. Share a
   * Redis-backed limiter between processes that use the same account.
   * @default a local limiter at Stripe's global limit for the key's mode: 100/s live, 25/s test,
   *   paced in fifths of a second (20 or 5 per 200 ms)
   */
  limiter?: RateLimiter | false;
  /**
   * Attempts per request, the first included.
   * @default 3 (two retries, as Stripe's SDKs)
   */
  attempts?: number;
  /**
   * First retry delay (full jitter, doubling per retry).
   * @default 500
   */
  baseDelayMs?: number;
  /**
   * Longest computed retry delay.
   * @default 5_000
   */
  maxDelayMs?: number;
  /**
   * Retry a plain `429 rate_limit` with backoff, as Stripe's rate-limit guide
   * advises (its SDKs do not). A client pacing at exactly the limit still
   * sees some: requests arrive at Stripe with jitter (decision 0702).
   * `Stripe-Should-Retry: false` still wins.
   * @default true
   */
  retryRateLimited?: boolean;
  /**
   * The retry budget every retry draws from (a shared one, its options, or `false`).
   * @default core's retryBudget() (20% of first attempts, at most 10 banked)
   */
  retryBudget?: RetryBudget | RetryBudgetOptions | false;
  /**
   * Time limit of one attempt, in milliseconds.
   * @default 80_000 (Stripe's SDK timeout)
   */
  timeoutMs?: number;
  /**
   * Circuit breaker: a shared registry, its options, or `false`.
   * @default core's circuitBreaker() defaults
   */
  breaker?: CircuitBreakers | CircuitBreakerOptions | false;
  /** Receives every retry, wait, breaker and timeout decision. */
  onEvent?: ResilienceEventHandler;
}

/** Options for {@link stripeFetch}. */
export interface StripeFetchOptions extends StripeResilienceOptions {
  /**
   * The mode of the key the SDK uses (`sk_live_…` is `live`), which sets the
   * default limiter's rate. Required unless `limiter` is given.
   */
  mode?: StripeMode;
}

/** The default limiter spends Stripe's per-second budget in this many equal slices. */
const PACING_SLICES = 5;

/** @internal */
export const DEFAULTS = {
  attempts: 3,
  baseDelayMs: 500,
  maxDelayMs: 5_000,
  retryRateLimited: true,
  timeoutMs: 80_000,
} as const;

/** A `StripeUsageError` of code `invalid_options`. @internal */
export function invalidOptions(api: string, message: string): StripeUsageError {
  return new StripeUsageError(api, 'invalid_options', message);
}

/** Checks an integer option. @internal */
export function checkCount(api: string, value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalidOptions(api, `${field} must be an integer from ${min} to ${max}`);
  return value;
}

/**
 * Core's resilient fetch with Stripe's rules: its retry classifier, the
 * limiter at the mode's rate, breaker, budget and per-attempt timeout.
 * @internal `stripeClient` and {@link stripeFetch} build on it.
 */
export function stripeResilientFetch(
  api: string,
  options: StripeResilienceOptions,
  mode: StripeMode | undefined,
  extra: { headers?: Record<string, () => string>; generateIdempotencyKey?: boolean } = {},
): FetchLike {
  const attempts = checkCount(api, options.attempts ?? DEFAULTS.attempts, 'attempts', 1, 10);
  const baseDelayMs = checkCount(api, options.baseDelayMs ?? DEFAULTS.baseDelayMs, 'baseDelayMs', 0, 60_000);
  const maxDelayMs = checkCount(api, options.maxDelayMs ?? DEFAULTS.maxDelayMs, 'maxDelayMs', baseDelayMs, 600_000);
  const timeoutMs = checkCount(api, options.timeoutMs ?? DEFAULTS.timeoutMs, 'timeoutMs', 1, 600_000);
  if (options.fetch !== undefined && typeof options.fetch !== 'function')
    throw invalidOptions(api, 'fetch must be a function');
  let limiter: RateLimiter | undefined;
  if (options.limiter !== false) {
    if (options.limiter) limiter = options.limiter;
    else {
      if (mode === undefined) throw invalidOptions(api, "mode ('live' or 'test') is required unless limiter is given");
      const limit = stripeRateLimitForMode(mode);
      // Stripe's budget in fifths of a second: never more than it in any second, and no
      // burst at each second's start for network jitter to push over the edge (decision 0702).
      limiter = rateLimiter({ limit: limit.requests / PACING_SLICES, interval: limit.intervalMs / PACING_SLICES });
    }
  }
  return resilientFetch({
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(limiter ? { limiter } : {}),
    ...(options.breaker === undefined ? {} : { breaker: options.breaker }),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    timeoutMs,
    retry: {
      attempts,
      baseDelayMs,
      maxDelayMs,
      shouldRetry: stripeShouldRetry({
        retryRateLimited: options.retryRateLimited ?? DEFAULTS.retryRateLimited,
        bodyTimeoutMs: timeoutMs,
      }),
      ...(extra.generateIdempotencyKey ? { generateIdempotencyKey: true } : {}),
      ...(options.retryBudget === undefined ? {} : { budget: options.retryBudget }),
    },
    ...(extra.headers ? { headers: extra.headers } : {}),
  });
}

/**
 * A `fetch` for stripe-node: Stripe's retry rule, rate limiter, circuit
 * breaker, retry budget and per-attempt timeout from `@ballast/core`, for
 * `Stripe.createFetchHttpClient`. Turn the SDK's own retries off
 * (`maxNetworkRetries: 0`): Ballast retries, with the SDK's Idempotency-Key
 * (or one it adds to a POST without). When Ballast gives up on an HTTP
 * answer (retry budget, deadline, a `Retry-After` too long) it hands that
 * answer to the SDK, which raises its own typed error for it. A breaker or
 * limiter refusal rejects, which the SDK reports as its
 * `StripeConnectionError` with Ballast's error as `detail` (see docs).
 *
 * @throws StripeUsageError `invalid_options` for settings that cannot work.
 * @example
 * ```ts
 * import Stripe from 'stripe';
 * const stripe = new Stripe(key, {
 *   httpClient: Stripe.createFetchHttpClient(stripeFetch({ mode: 'live' })),
 *   maxNetworkRetries: 0,
 * });
 * const customer = await stripe.customers.create({ email: 'ada@example.com' }); // a typed Stripe.Customer
 * ```
 */
export function stripeFetch(options: StripeFetchOptions): FetchLike {
  const api = 'stripeFetch';
  if (typeof options !== 'object' || options === null) throw invalidOptions(api, 'options must be an object');
  if (options.mode !== undefined && options.mode !== 'live' && options.mode !== 'test')
    throw invalidOptions(api, "mode must be 'live' or 'test'");
  const send = stripeResilientFetch(api, options, options.mode, { generateIdempotencyKey: true });
  return async (input, init) => {
    try {
      return await send(input, init);
    } catch (error) {
      // Ballast gave up on an answer: the SDK turns it into its own typed error (rate limit, API error, …).
      if (isResilienceError(error) && error.response) return error.response;
      throw error;
    }
  };
}
