import {
  type RateLimiter,
  type RedisScriptClient,
  type ResilienceEventHandler,
  rateLimiter,
  redisRateLimiter,
} from '@ballast/core/resilience';

/** A per-minute quota spent in equal slices: `limit` per `interval` ms. @internal */
export interface Pace {
  limit: number;
  interval: number;
}

const MINUTE = 60_000;
const MAX_SLICES = 60;

/**
 * Splits a per-minute quota into the most equal slices (at most one per
 * second) whose size still fits the heaviest call, so no minute ever sees
 * more than the quota and no burst of a whole minute's budget lands at once.
 * A slice's length is rounded up to whole milliseconds (never faster than
 * the quota).
 * @internal
 */
export function paceOf(perMinute: number, maxWeight = 1): Pace {
  for (let slices = Math.min(MAX_SLICES, perMinute); slices >= 1; slices--) {
    if (perMinute % slices !== 0) continue;
    const limit = perMinute / slices;
    if (limit >= maxWeight) return { limit, interval: Math.ceil(MINUTE / slices) };
  }
  return { limit: perMinute, interval: MINUTE };
}

/** What builds the limiter of one API. @internal */
export interface PacingOptions {
  redis?: RedisScriptClient | undefined;
  redisKeyPrefix: string;
  onEvent?: ResilienceEventHandler | undefined;
}

/** A limiter at `perMinute`, local or shared through Redis. @internal */
export function quotaLimiter(perMinute: number, maxWeight: number, options: PacingOptions): RateLimiter {
  const pace = paceOf(perMinute, maxWeight);
  const common = {
    limit: pace.limit,
    interval: pace.interval,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  };
  if (options.redis)
    return redisRateLimiter({
      ...common,
      redis: options.redis,
      keyPrefix: options.redisKeyPrefix,
      maxWait: Number.POSITIVE_INFINITY,
    });
  return rateLimiter({ ...common, maxQueued: Number.POSITIVE_INFINITY });
}
