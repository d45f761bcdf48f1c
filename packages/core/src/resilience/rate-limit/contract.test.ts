import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { describeWithRedis, uniqueKeyPrefix } from '../../../../../test-support/services';
import { rateLimiterContract } from './contract';
import { rateLimiter } from './local';
import { redisRateLimiter } from './redis';

rateLimiterContract('rateLimiter', (options) => rateLimiter(options));

describeWithRedis('shared budget', (url) => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(url, { maxRetriesPerRequest: 1 });
  });
  afterAll(() => redis.disconnect());
  rateLimiterContract('redisRateLimiter', (options) =>
    redisRateLimiter({ redis, ...options, keyPrefix: uniqueKeyPrefix() }),
  );
});
