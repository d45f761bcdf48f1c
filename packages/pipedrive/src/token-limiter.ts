import type { RateLimiter, ScheduleOptions } from '@ballast/core/resilience';

/** Appended to a token's limiter key for Search API calls. @internal */
export const SEARCH_SUFFIX = ':search';

/** A limiter that can also pause a key (the local and the Redis limiter both can). @internal */
export interface PausableLimiter extends RateLimiter {
  pause(key: string, ms: number): void | Promise<void>;
}

/**
 * One token's two budgets as one {@link RateLimiter}: every call takes a slot
 * of the token's burst window; a Search API call (its key ends in
 * `:search`) takes a slot of the search bucket first, then one of the burst
 * window. A 429 on either pauses both for at least one window: after a 429
 * nothing more is sent on the token until the window has passed.
 * @internal
 */
export function tokenLimiter(burst: PausableLimiter, search: PausableLimiter, windowMs: number): RateLimiter {
  const split = (key: string): { base: string; isSearch: boolean } =>
    key.endsWith(SEARCH_SUFFIX)
      ? { base: key.slice(0, -SEARCH_SUFFIX.length), isSearch: true }
      : { base: key, isSearch: false };
  return {
    schedule<T>(fn: (signal?: AbortSignal) => Promise<T>, options: ScheduleOptions = {}): Promise<T> {
      const { base, isSearch } = split(options.key ?? 'default');
      if (!isSearch) return burst.schedule(fn, options);
      return search.schedule((signal) => {
        const inner: ScheduleOptions = { ...options, key: base };
        if (signal !== undefined) inner.signal = signal;
        return burst.schedule(fn, inner);
      }, options);
    },
    observe(response: Response, key = 'default'): void {
      const { base, isSearch } = split(key);
      if (isSearch) search.observe?.(response, key);
      else burst.observe?.(response, key);
      if (response.status === 429) {
        const ignore = () => undefined;
        Promise.resolve(burst.pause(base, windowMs)).catch(ignore);
        Promise.resolve(search.pause(`${base}${SEARCH_SUFFIX}`, windowMs)).catch(ignore);
      }
    },
  };
}
