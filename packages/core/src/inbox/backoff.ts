/** The retry policy of failed attempts: exponential backoff with jitter, then dead-lettering. */
import { InboxError } from './errors';

/** Retry policy for failed attempts: exponential backoff with jitter, then dead-lettering. */
export interface InboxRetryOptions {
  /**
   * Attempts before an event is dead-lettered (the first attempt counts).
   * @default 8
   */
  maxAttempts?: number;
  /**
   * Delay before the second attempt, in milliseconds.
   * @default 1000
   */
  initialDelayMs?: number;
  /**
   * Each further delay is the previous one times this.
   * @default 2
   */
  factor?: number;
  /**
   * The longest delay between attempts, in milliseconds.
   * @default 3_600_000 (one hour)
   */
  maxDelayMs?: number;
  /**
   * The share of each delay that is random: `0.5` waits between 50% and 100% of it.
   * @default 0.5
   */
  jitter?: number;
}

const RETRY_DEFAULTS: Readonly<Required<InboxRetryOptions>> = Object.freeze({
  maxAttempts: 8,
  initialDelayMs: 1000,
  factor: 2,
  maxDelayMs: 3_600_000,
  jitter: 0.5,
});

/** An `invalid_options` error of `createInboxWorker`. */
export function invalidWorkerOption(message: string): InboxError {
  return new InboxError('createInboxWorker', 'invalid_options', message);
}

/** Checks a numeric option: finite, at least `min`, an integer when asked. */
export function positive(name: string, value: number, { integer = false, min = 1 } = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw invalidWorkerOption(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Validates the retry options and fills in the defaults (a new object). */
export function normalizeRetry(options: InboxRetryOptions = {}): Required<InboxRetryOptions> {
  const r = { ...RETRY_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  positive('retry.maxAttempts', r.maxAttempts, { integer: true });
  positive('retry.initialDelayMs', r.initialDelayMs, { min: 0 });
  positive('retry.factor', r.factor);
  positive('retry.maxDelayMs', r.maxDelayMs, { min: 0 });
  if (!(r.jitter >= 0 && r.jitter <= 1)) {
    throw invalidWorkerOption(`retry.jitter must be between 0 and 1, got ${String(r.jitter)}`);
  }
  return r;
}

/**
 * The delay before the attempt after `attempt` failed: exponential, capped,
 * with the jittered share drawn from `random`.
 */
export function backoffDelay(retry: Required<InboxRetryOptions>, attempt: number, random: () => number): number {
  const base = Math.min(retry.maxDelayMs, retry.initialDelayMs * retry.factor ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - retry.jitter) + base * retry.jitter * random());
}
