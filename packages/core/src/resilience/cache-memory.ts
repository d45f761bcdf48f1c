import type { CachedResponse, CacheStore } from './cache-store';
import { checkNumber, checkOptions } from './errors';

/** Options of {@link memoryCache}. */
export interface MemoryCacheOptions {
  /**
   * The most entries kept; the least recently used one is evicted beyond this.
   * @default 1000
   */
  maxEntries?: number;
}

/**
 * An in-process cache store: a bounded LRU map. Entries are dropped when their
 * retention passes (checked when read) or when the map is full.
 *
 * @example
 * ```ts
 * const fetch = resilientFetch({ cache: { store: memoryCache({ maxEntries: 500 }) } });
 * ```
 */
export function memoryCache(options: MemoryCacheOptions = {}): CacheStore & { readonly size: number } {
  checkOptions('memoryCache', options);
  const maxEntries = options.maxEntries ?? 1000;
  checkNumber('memoryCache', 'maxEntries', maxEntries, 1);
  const entries = new Map<string, { entry: CachedResponse; expiresAt: number }>();
  return {
    async get(key) {
      const hit = entries.get(key);
      if (hit === undefined) return undefined;
      entries.delete(key);
      if (hit.expiresAt <= Date.now()) return undefined;
      entries.set(key, hit); // most recently used moves to the end
      return hit.entry;
    },
    async set(key, entry, retainMs) {
      entries.delete(key);
      entries.set(key, { entry, expiresAt: Date.now() + retainMs });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
    },
    async delete(key) {
      entries.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}
