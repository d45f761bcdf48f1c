/** `@ballast/core/stores/redis`: Redis-backed drivers (ioredis). */

export type { RedisCacheClient, RedisCacheOptions } from '../resilience/cache-redis';
export { redisCache } from '../resilience/cache-redis';
export type { RedisRateLimiter, RedisRateLimiterOptions, RedisScriptClient } from '../resilience/rate-limit/redis';
export { redisRateLimiter } from '../resilience/rate-limit/redis';
