import { describe, expect, it } from 'vitest';
import { StripeUsageError } from './errors';
import { stripeMode, stripeRateLimit } from './limits';

describe('stripe limits', () => {
  it('reads the mode from the key prefix', () => {
    expect(stripeMode('sk_live_abc123')).toBe('live');
    expect(stripeMode('rk_test_abc123')).toBe('test');
    expect(stripeMode('  sk_test_abc  ')).toBe('test');
  });

  it('gives 100/s live and 25/s test', () => {
    expect(stripeRateLimit('sk_live_x1')).toEqual({ requests: 100, intervalMs: 1000 });
    expect(stripeRateLimit('sk_test_x1')).toEqual({ requests: 25, intervalMs: 1000 });
  });

  it('rejects what is not a key without echoing it', () => {
    for (const bad of ['', 'whsec_abc', 'sk_prod_abc', 'sk_live_', 'sk_live_a b']) {
      expect(() => stripeMode(bad)).toThrow(StripeUsageError);
    }
    expect(() => stripeMode('sk_oops_supersecret')).toThrow(/^(?!.*supersecret)/);
  });
});
