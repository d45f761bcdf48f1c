/**
 * `@ballast/core/resilience`: outbound calls that survive a misbehaving
 * provider. `resilientFetch(policy)` runs each call down a pipeline of named
 * layers: cache fallback → retry → hooks → circuit breaker → classification →
 * rate limiter → attempt (per-attempt timeout, fetch), under one deadline.
 * Each layer is exported on its own too.
 *
 * Exports are grouped by source file (the order the formatter keeps):
 * cache and its stores, the breaker, errors, the limiters and `batch`
 * (rate-limit/), the header reader, resilientFetch, retry, timeout, and the
 * shared types (events, the RateLimiter contract and its base options).
 *
 * Left out on purpose: the engines behind `retry` and `cache` (their `run`),
 * the pipeline's per-call context (pipeline.ts),
 * the limiters' internals (queue, grant log, validation), the backoff and
 * parsing helpers, and the test support.
 */

export type { Cache, CacheKeyRequest, CacheOptions } from './cache';
export { CACHE_HEADER, cache, cacheStatus, DEFAULT_CREDENTIAL_HEADERS, defaultCacheKey } from './cache';
export type { MemoryCacheOptions } from './cache-memory';
export { memoryCache } from './cache-memory';
export type { RedisCacheClient, RedisCacheOptions } from './cache-redis';
export { redisCache } from './cache-redis';
export type { SqlCacheOptions } from './cache-sql';
export { sqlCache } from './cache-sql';
export type { CachedResponse, CacheStore } from './cache-store';
export type {
  BreakerCallOptions,
  BreakerHealth,
  BreakerIsolation,
  BreakerOutcome,
  BreakerPermit,
  BreakerState,
  BreakerVerdict,
  CircuitBreakerOptions,
  CircuitBreakers,
} from './circuit-breaker';
export { circuitBreaker, defaultBreakerVerdict, sharedCircuitBreakers } from './circuit-breaker';
export type { Classifier, ClassifyContext, ResponseVerdict } from './classify';
export { DEFAULT_RETRY_STATUSES, defaultVerdict } from './classify';
export type { ResilienceErrorCode, ResilienceErrorDetails } from './errors';
export { isResilienceError, ResilienceError } from './errors';
export type {
  BatchChunkContext,
  BatchFailure,
  BatchOptions,
  BatchOutcome,
  BatchProgress,
  BatchReport,
} from './rate-limit/batch';
export { batch } from './rate-limit/batch';
export type { RedisCounterOptions, SharedCounter } from './rate-limit/counter';
export { memoryCounter, redisCounter } from './rate-limit/counter';
export type { RateLimitErrorCode, RateLimitErrorContext } from './rate-limit/errors';
export { isRateLimitError, RateLimitError } from './rate-limit/errors';
export type { LocalRateLimiter, RateLimiterKeyStats, RateLimiterOptions } from './rate-limit/local';
export { adaptiveRateLimiter, rateLimiter } from './rate-limit/local';
export type { RedisRateLimiter, RedisRateLimiterOptions, RedisScriptClient } from './rate-limit/redis';
export { redisRateLimiter } from './rate-limit/redis';
export type { HeaderReader, RateLimitSignal } from './rate-limit-headers';
export { readRateLimitHeaders, serverWaitMs } from './rate-limit-headers';
export type { ReadResponseTextOptions } from './read-body';
export { readResponseText } from './read-body';
export type {
  BeforeRetryContext,
  CallPolicy,
  HeaderSource,
  HookContext,
  ResilientFetch,
  ResilientFetchOptions,
  ResilientRequestInit,
} from './resilient-fetch';
export { resilientFetch } from './resilient-fetch';
export type { Retry, RetryContext, RetryOptions } from './retry';
export { retry } from './retry';
export type { RetryBudget, RetryBudgetOptions } from './retry-budget';
export { retryBudget, sharedRetryBudget } from './retry-budget';
export type { Timeout, TimeoutCallOptions, TimeoutOptions } from './timeout';
export { timeout } from './timeout';
export type {
  BaseRateLimiterOptions,
  BreakerRejectEvent,
  BreakerStateEvent,
  CacheEvent,
  CacheMissEvent,
  FetchLike,
  RateLimiter,
  ResilienceEvent,
  ResilienceEventBase,
  ResilienceEventHandler,
  RetryEvent,
  RetryGiveUpEvent,
  ScheduleOptions,
  ThrottleEvent,
  TimeoutEvent,
} from './types';
