import { StripeUsageError } from './errors';

/** Whether a key belongs to live mode or to a sandbox (test mode). */
export type StripeMode = 'live' | 'test';

const KEY = /^(sk|rk|pk)_(live|test)_[A-Za-z0-9_]+$/;

/**
 * Reads the mode from a Stripe API key's prefix (`sk_live_`, `rk_test_`, ...).
 * @throws StripeUsageError `invalid_options` for anything that is not a Stripe key, without echoing the key.
 */
export function stripeMode(apiKey: string): StripeMode {
  const match = typeof apiKey === 'string' ? KEY.exec(apiKey.trim()) : null;
  if (!match)
    throw new StripeUsageError(
      'stripeMode',
      'invalid_options',
      'not a Stripe API key (expected sk_/rk_/pk_ + live_/test_)',
    );
  return match[2] === 'live' ? 'live' : 'test';
}

/**
 * Stripe's global request budget per account for the key's mode:
 * 100 requests/s in live mode, 25 requests/s in a sandbox.
 */
export function stripeRateLimit(apiKey: string): { requests: number; intervalMs: number } {
  return stripeRateLimitForMode(stripeMode(apiKey));
}

/** Stripe's global request budget per account for a mode. @internal */
export function stripeRateLimitForMode(mode: StripeMode): { requests: number; intervalMs: number } {
  return { requests: mode === 'live' ? 100 : 25, intervalMs: 1000 };
}
