import { checkNumber, checkOptions } from './errors';
import { definedOnly } from './internal';

/** Options of {@link retryBudget}. */
export interface RetryBudgetOptions {
  /**
   * Tokens each first attempt deposits: retries may add at most this fraction
   * of the traffic on top of the first attempts (0.2 = at most 20% more).
   * @default 0.2
   */
  ratio?: number;
  /**
   * Tokens added per second regardless of traffic, so a quiet key can still retry.
   * @default 1
   */
  minPerSecond?: number;
  /**
   * The most tokens a key can hold (a full bucket at start), bounding a burst of retries.
   * @default 10
   */
  maxTokens?: number;
  /**
   * How many keys are tracked; the least recently used key is forgotten beyond this.
   * @default 1000
   */
  maxKeys?: number;
}

/**
 * A token bucket per key (per host by default) that every retry must draw a
 * token from. During an outage the bucket empties and retries stop, so
 * retrying cannot multiply the traffic sent to a provider that is down.
 */
export interface RetryBudget {
  /** Records a first attempt, which earns `ratio` tokens. */
  deposit(key: string): void;
  /** Takes one token for a retry; false when the bucket is empty. */
  withdraw(key: string): boolean;
  /** Tokens left for `key` (for health checks and tests). */
  tokens(key: string): number;
}

const DEFAULTS: Required<RetryBudgetOptions> = { ratio: 0.2, minPerSecond: 1, maxTokens: 10, maxKeys: 1000 };

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Builds a {@link RetryBudget}. No timers: buckets refill lazily when read.
 *
 * @example
 * ```ts
 * const budget = retryBudget({ ratio: 0.1 });
 * const fetch = resilientFetch({ retry: { budget } });
 * ```
 */
export function retryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  checkOptions('retryBudget', options);
  const o = { ...DEFAULTS, ...definedOnly(options) };
  checkNumber('retryBudget', 'ratio', o.ratio, 0, 1000);
  checkNumber('retryBudget', 'minPerSecond', o.minPerSecond, 0);
  checkNumber('retryBudget', 'maxTokens', o.maxTokens, 1);
  checkNumber('retryBudget', 'maxKeys', o.maxKeys, 1);
  const buckets = new Map<string, Bucket>();

  const bucket = (key: string): Bucket => {
    const now = Date.now();
    let b = buckets.get(key);
    if (b === undefined) {
      b = { tokens: o.maxTokens, at: now };
      if (buckets.size >= o.maxKeys) {
        const oldest = buckets.keys().next().value;
        if (oldest !== undefined) buckets.delete(oldest);
      }
      buckets.set(key, b);
      return b;
    }
    const elapsed = now - b.at;
    if (elapsed > 0) {
      b.tokens = Math.min(o.maxTokens, b.tokens + (elapsed / 1000) * o.minPerSecond);
      b.at = now;
    }
    return b;
  };

  return {
    deposit(key) {
      const b = bucket(key);
      b.tokens = Math.min(o.maxTokens, b.tokens + o.ratio);
    },
    withdraw(key) {
      const b = bucket(key);
      if (b.tokens < 1) return false;
      b.tokens -= 1;
      // keep recently retried keys at the young end of the map
      buckets.delete(key);
      buckets.set(key, b);
      return true;
    },
    tokens: (key) => bucket(key).tokens,
  };
}

let shared: RetryBudget | undefined;

/**
 * The process-wide budget every `retry()` (and so every `resilientFetch`)
 * draws from when given no `budget` option, so two fetches calling the same
 * host share one bucket per host. Built on first use with the defaults. Pass
 * your own `retryBudget()` to opt out, or `budget: false` for none.
 */
export function sharedRetryBudget(): RetryBudget {
  shared ??= retryBudget();
  return shared;
}
