/**
 * Rate limiting for `@ballast/core/resilience`: a process-local limiter, an
 * adaptive one that learns from provider headers, a Redis-shared one, and
 * `batch` for bulk work through any of them.
 */

export type {
  BatchChunkContext,
  BatchFailure,
  BatchOptions,
  BatchOutcome,
  BatchProgress,
  BatchReport,
} from './batch';
export { batch } from './batch';
export type { RateLimitErrorCode, RateLimitErrorContext } from './errors';
export { isRateLimitError, RateLimitError } from './errors';
export type { LocalRateLimiter, RateLimiterKeyStats, RateLimiterOptions } from './local';
export { adaptiveRateLimiter, rateLimiter } from './local';
export type { RedisRateLimiter, RedisRateLimiterOptions, RedisScriptClient } from './redis';
export { redisRateLimiter } from './redis';
