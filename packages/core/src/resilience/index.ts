/** `@ballast/core/resilience` — filled in by its issue. */

// rate limiting (owner: rate-limit)
export type {
  LocalRateLimiter,
  RateLimitErrorCode,
  RateLimitErrorContext,
  RateLimiterKeyStats,
  RateLimiterOptions,
  RateLimitSignal,
} from './rate-limit/index';
export {
  adaptiveRateLimiter,
  isRateLimitError,
  RateLimitError,
  rateLimiter,
  readRateLimitHeaders,
} from './rate-limit/index';
