import { memoryCache } from './cache-memory';
import type { CachedResponse, CacheStore } from './cache-store';
import { checkFunction, checkNumber, checkOptions, ResilienceError } from './errors';
import { definedOnly, discard, emitter, headerOf, hostOf, methodOf, urlOf } from './internal';
import type { FetchLike, ResilienceEventHandler } from './types';

/** What a cache key function sees about a request. */
export interface CacheKeyRequest {
  /** Upper-case HTTP method. */
  method: string;
  url: string;
  /** Reads one request header. */
  header(name: string): string | null;
}

/** Options of {@link cache}. */
export interface CacheOptions {
  /**
   * Where responses are kept.
   * @default memoryCache()
   */
  store?: CacheStore;
  /**
   * How long a stored response is fresh: within it, a request is answered from
   * the cache without calling the provider. 0 always calls the provider and
   * uses the cache only as a fallback.
   * @default 0
   */
  ttlMs?: number;
  /**
   * How long past `ttlMs` a stored response may still stand in for a failed call.
   * @default 3_600_000 (one hour)
   */
  maxStaleMs?: number;
  /**
   * The cache key of a request, or undefined not to cache it. Requests that
   * carry an `Authorization` header are only cached through a key function of
   * your own, which must partition by tenant or credential.
   * @default `GET <url>` for GET requests without an Authorization header; others are not cached
   */
  key?: (request: CacheKeyRequest) => string | undefined;
  /**
   * Which responses count as a failure to fall back from.
   * @default status >= 500, 429 or 408
   */
  isFailure?: (response: Response) => boolean;
  /**
   * A response under a key this process stored less than this long ago is not
   * stored again (saves a copy and a store write on hot keys).
   * @default 1_000
   */
  rewriteAfterMs?: number;
  /** Receives `cache.hit`, `cache.stale` and `cache.miss` events. */
  onEvent?: ResilienceEventHandler;
}

/** A response cache with stale-if-error, usable on its own or as a layer of `resilientFetch`. */
export interface Cache {
  /** The store behind it. */
  readonly store: CacheStore;
  /** Returns a fetch that answers from this cache when fresh, and serves stale entries when the call fails. */
  wrap(fetch: FetchLike): FetchLike;
  /** Resolves when every store write started so far has finished (writes run in the background). */
  flush(): Promise<void>;
}

/** The header that marks a response served from the cache: `hit` or `stale`. */
export const CACHE_HEADER = 'x-ballast-cache';

const served = new WeakMap<Response, 'hit' | 'stale'>();

/**
 * Headers that describe how the body travelled, not what it is: `fetch` has
 * already decoded the body, so a stored copy must not claim gzip or a length.
 */
const BODY_FRAMING = new Set(['content-encoding', 'content-length', 'transfer-encoding']);

/**
 * How the cache served a response: `hit` (fresh), `stale` (standing in for a
 * failure), or undefined (from the provider).
 */
export function cacheStatus(response: Response): 'hit' | 'stale' | undefined {
  const flag = served.get(response);
  if (flag !== undefined) return flag;
  const header = response.headers.get(CACHE_HEADER);
  return header === 'hit' || header === 'stale' ? header : undefined;
}

const DEFAULTS = {
  ttlMs: 0,
  maxStaleMs: 3_600_000,
  rewriteAfterMs: 1_000,
  key: defaultCacheKey,
  isFailure: (r: Response) => r.status >= 500 || r.status === 429 || r.status === 408,
};

/** The default key: GET requests without credentials, by URL. */
export function defaultCacheKey(request: CacheKeyRequest): string | undefined {
  if (request.method !== 'GET' || request.header('authorization') !== null) return undefined;
  return `GET ${request.url}`;
}

/** One call as the cache layer sees it. @internal */
export interface CacheCall {
  input: string | URL | Request;
  init: RequestInit | undefined;
  method: string;
  url: string;
  /** The group key, for events. */
  group: string;
  emit: ResilienceEventHandler | undefined;
}

/** The cache behind {@link Cache}, for `resilientFetch`. @internal */
export interface CacheEngine extends Cache {
  run(call: CacheCall, next: () => Promise<Response>): Promise<Response>;
  readonly emit: ResilienceEventHandler | undefined;
}

/**
 * Builds a response cache with stale-if-error.
 *
 * @example
 * ```ts
 * const c = cache({ store: memoryCache(), ttlMs: 0, maxStaleMs: 3_600_000 });
 * const fetch = resilientFetch({ cache: c });
 * const res = await fetch('https://api.example.com/v1/prices'); // on an outage: the last good response, marked stale
 * if (cacheStatus(res) === 'stale') console.warn('the provider is down: served from the cache');
 * ```
 */
export function cache(options: CacheOptions = {}): Cache {
  return cacheEngine(options);
}

/** @internal */
export function cacheEngine(options: CacheOptions): CacheEngine {
  const api = 'cache';
  checkOptions(api, options);
  const o = { ...DEFAULTS, ...definedOnly(options) };
  checkNumber(api, 'ttlMs', o.ttlMs, 0);
  checkNumber(api, 'maxStaleMs', o.maxStaleMs, 0);
  checkNumber(api, 'rewriteAfterMs', o.rewriteAfterMs, 0);
  checkFunction(api, 'key', o.key);
  checkFunction(api, 'isFailure', o.isFailure);
  checkFunction(api, 'onEvent', o.onEvent);
  const store = o.store ?? memoryCache();
  if (typeof store.get !== 'function' || typeof store.set !== 'function') {
    throw new ResilienceError(api, 'invalid_options', 'store must implement get(key) and set(key, entry, retainMs)');
  }
  const retainMs = o.ttlMs + o.maxStaleMs;
  const writtenAt = new Map<string, number>();
  const writes = new Set<Promise<void>>();
  const ownEmit = emitter(o.onEvent);

  const respond = (entry: CachedResponse, how: 'hit' | 'stale', now: number): Response => {
    const headers = new Headers(entry.headers);
    headers.set(CACHE_HEADER, how);
    headers.set('age', String(Math.max(0, Math.floor((now - entry.storedAt) / 1000))));
    const nullBody = entry.status === 204 || entry.status === 304;
    const res = new Response(nullBody ? null : (entry.body as Uint8Array<ArrayBuffer>), {
      status: entry.status,
      statusText: entry.statusText,
      headers,
    });
    served.set(res, how);
    return res;
  };

  const read = async (key: string): Promise<CachedResponse | undefined> => {
    try {
      return await store.get(key);
    } catch {
      return undefined; // a broken store must not turn a fallback into a crash
    }
  };

  const write = (key: string, response: Response) => {
    const now = Date.now();
    const last = writtenAt.get(key);
    if (last !== undefined && now - last < o.rewriteAfterMs) return;
    if (/no-store/i.test(response.headers.get('cache-control') ?? '')) return;
    writtenAt.delete(key);
    writtenAt.set(key, now);
    if (writtenAt.size > 10_000) {
      const oldest = writtenAt.keys().next().value;
      if (oldest !== undefined) writtenAt.delete(oldest);
    }
    const copy = response.clone();
    const job = copy
      .arrayBuffer()
      .then((body) =>
        store.set(
          key,
          {
            status: copy.status,
            statusText: copy.statusText,
            headers: [...copy.headers].filter(([name]) => !BODY_FRAMING.has(name)),
            body: new Uint8Array(body),
            storedAt: now,
          },
          retainMs,
        ),
      )
      .catch(() => {
        writtenAt.delete(key); // try again on the next success
      })
      .finally(() => writes.delete(job));
    writes.add(job);
  };

  const run = async (call: CacheCall, next: () => Promise<Response>): Promise<Response> => {
    const key = o.key({
      method: call.method,
      url: call.url,
      header: (name) => headerOf(call.input, call.init, name),
    });
    if (key === undefined) return next();
    const emit = call.emit;
    let entry: CachedResponse | undefined;
    let looked = false;
    if (o.ttlMs > 0) {
      entry = await read(key);
      looked = true;
      const now = Date.now();
      if (entry !== undefined && now - entry.storedAt <= o.ttlMs) {
        emit?.({ type: 'cache.hit', at: now, key: call.group, ageMs: now - entry.storedAt });
        return respond(entry, 'hit', now);
      }
    }
    let response: Response | undefined;
    let error: unknown;
    try {
      response = await next();
      if (!o.isFailure(response)) {
        if (response.ok) write(key, response);
        return response;
      }
    } catch (e) {
      error = e;
    }
    if (!looked) entry = await read(key);
    const now = Date.now();
    const cause = response === undefined ? error : `HTTP ${response.status}`;
    if (entry !== undefined && now - entry.storedAt <= retainMs) {
      if (response !== undefined) discard(response);
      emit?.({ type: 'cache.stale', at: now, key: call.group, ageMs: now - entry.storedAt, error: cause });
      return respond(entry, 'stale', now);
    }
    emit?.({ type: 'cache.miss', at: now, key: call.group, error: cause });
    throw new ResilienceError(
      api,
      'no_cached_value',
      `the call failed (${response === undefined ? 'no response' : `HTTP ${response.status}`}) and nothing usable is cached for ${JSON.stringify(key)}`,
      response === undefined ? { key: call.group, cause: error } : { key: call.group, response },
    );
  };

  return {
    store,
    run,
    emit: ownEmit,
    async flush() {
      while (writes.size > 0) await Promise.all([...writes]);
    },
    wrap(fetch) {
      checkFunction(api, 'fetch', fetch);
      return (input, init) => {
        const url = urlOf(input);
        return run({ input, init, method: methodOf(input, init), url, group: hostOf(url), emit: ownEmit }, () =>
          fetch(input, init),
        );
      };
    },
  };
}
