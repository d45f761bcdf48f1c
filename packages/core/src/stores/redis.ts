/** `@ballast/core/stores/redis`: Redis-backed drivers (ioredis). */

export type { RedisCacheClient, RedisCacheOptions } from '../resilience/cache-redis';
export { redisCache } from '../resilience/cache-redis';
