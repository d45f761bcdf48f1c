import { type RetryContext, readResponseText } from '@ballast/core/resilience';

/** Options for {@link stripeShouldRetry}. */
export interface StripeRetryRuleOptions {
  /**
   * Also retry a plain `429 rate_limit` (with backoff). Stripe's SDKs do not;
   * Stripe's rate-limit guide recommends backing off and retrying, and
   * `stripeClient` turns it on by default.
   * @default false
   */
  retryRateLimited?: boolean;
  /**
   * How long reading a 429's body (for its `code`) may take; past it the code is unknown.
   * @default 80_000 (the client's per-attempt timeout)
   */
  bodyTimeoutMs?: number;
}

async function errorCodeOf(response: Response | undefined, timeoutMs: number): Promise<string | undefined> {
  if (!response) return undefined;
  try {
    const body = JSON.parse(await readResponseText(response, { timeoutMs })) as { error?: { code?: unknown } } | null;
    const code = body?.error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The retry rule Stripe expects, as a classifier for core's `retry`
 * (`shouldRetry`): `Stripe-Should-Retry` decides when present; otherwise
 * connection errors and timeouts, 409 (a concurrent request with the same
 * idempotency key), 5xx, and a 429 whose code is `lock_timeout` (or any 429
 * with `retryRateLimited`) are retried, and nothing else is.
 */
export function stripeShouldRetry(
  options: StripeRetryRuleOptions = {},
): (ctx: RetryContext) => Promise<boolean | undefined> {
  const retryRateLimited = options.retryRateLimited ?? false;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 80_000;
  return async (ctx) => {
    const response = ctx.response;
    if (response === undefined) return undefined; // no answer: core's network-error rule
    const verdict = response.headers.get('stripe-should-retry');
    if (verdict === 'true') return true;
    if (verdict === 'false') return false;
    const status = response.status;
    if (status < 400) return false;
    if (status === 409 || status >= 500) return true;
    if (status === 429) return retryRateLimited || (await errorCodeOf(response, bodyTimeoutMs)) === 'lock_timeout';
    return false;
  };
}
