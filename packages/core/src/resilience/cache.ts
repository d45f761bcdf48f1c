import { sha256Hex, sha256HexSync } from '../sync/canonical';
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
   * The cache key of a request, or undefined not to cache it. The cache always
   * adds the request's credential headers (see `credentialHeaders`) to it, so a
   * key function never has to partition by credential itself.
   * @default `GET <url>` for GET requests; others are not cached
   */
  key?: (request: CacheKeyRequest) => string | undefined;
  /**
   * Request headers that say who is calling (case-insensitive). A request is
   * keyed by a SHA-256 of their values, so two credentials never share an
   * entry; the values themselves never reach the store. Add a header of your
   * own (a tenant id) with `[...DEFAULT_CREDENTIAL_HEADERS, 'x-tenant']`.
   * Headers added below the cache (by the wrapped fetch) are not seen.
   * @default DEFAULT_CREDENTIAL_HEADERS
   */
  credentialHeaders?: readonly string[];
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
  /**
   * The store key a request is kept under (a SHA-256 of its key and credential
   * headers), or undefined when it is not cached. To forget an entry:
   * `const k = await c.keyOf(url, init); if (k) await c.store.delete(k);`
   */
  keyOf(input: string | URL | Request, init?: RequestInit): Promise<string | undefined>;
  /** Resolves when every store write started so far has finished (writes run in the background). */
  flush(): Promise<void>;
}

/** The header that marks a response served from the cache: `hit` or `stale`. */
export const CACHE_HEADER = 'x-ballast-cache';

const served = new WeakMap<Response, 'hit' | 'stale'>();

/**
 * Response headers never stored. Those that describe how the body travelled,
 * not what it is (`fetch` has already decoded the body, so a stored copy must
 * not claim gzip or a length), and `set-cookie`: a session handed to one
 * caller is not served to the next.
 */
const NOT_STORED = new Set(['content-encoding', 'content-length', 'transfer-encoding', 'set-cookie']);

/**
 * Request headers that carry credentials, by default: the standard ones
 * (`authorization`, `proxy-authorization`, `cookie`) and the API-key headers
 * providers commonly use.
 */
export const DEFAULT_CREDENTIAL_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
  'api-key',
  'apikey',
  'x-apikey',
  'x-auth-token',
  'x-access-token',
  'x-goog-api-key',
  'ocp-apim-subscription-key',
  'private-token',
  'x-amz-security-token',
]);

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

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
  credentialHeaders: DEFAULT_CREDENTIAL_HEADERS,
  isFailure: (r: Response) => r.status >= 500 || r.status === 429 || r.status === 408,
};

/** The default key: GET requests, by URL (the cache adds their credentials). */
export function defaultCacheKey(request: CacheKeyRequest): string | undefined {
  return request.method === 'GET' ? `GET ${request.url}` : undefined;
}

/** SHA-256 (hex) of a text: synchronous with node:crypto, Web Crypto elsewhere. */
function digest(text: string): string | Promise<string> {
  return sha256HexSync !== undefined ? sha256HexSync(text) : sha256Hex([text]).then((hashes) => hashes[0] as string);
}

/** The directive names of a `Cache-Control` value, lower-cased. */
function directives(value: string | null): string[] {
  if (value === null) return [];
  return value.split(',').map((part) => (part.split('=')[0] as string).trim().toLowerCase());
}

/** The request headers a `Vary` value names, lower-cased, sorted, without repeats; `*` alone when it has one. */
function varyNames(value: string | null): string[] {
  if (value === null) return [];
  const names = new Set<string>();
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '*') return ['*'];
    if (name !== '') names.add(name);
  }
  return [...names].sort();
}

/** The fingerprint of a request's values for `names` ('' for none): what a stored entry's `variant` must equal. */
function variantOf(names: readonly string[], header: (name: string) => string | null): string | Promise<string> {
  if (names.length === 0) return '';
  return digest(JSON.stringify(names.map((name) => [name, header(name)])));
}

/** The value of a header in a stored entry, or null. */
function storedHeader(entry: CachedResponse, name: string): string | null {
  const values = entry.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  return values.length === 0 ? null : values.join(', ');
}

/** Resolves with `promise`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Reads one request header. */
type Header = (name: string) => string | null;

/** Who a cached request is, as the store knows it. */
interface Identity {
  /** The store key: a SHA-256 of the key function's result and the credential headers. */
  key: string;
  /** The request carried at least one credential header, so its entry is its caller's alone. */
  credentialed: boolean;
  /** The request asked for no stored answer without the provider (`Cache-Control: no-cache`). */
  noCache: boolean;
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
  /**
   * `resilientFetch`'s one classification of the final response: true when it
   * is a failure (never stored; a stale entry stands in). Undefined: use `isFailure`.
   */
  failed?: () => boolean | undefined;
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
  const credentialHeaders = checkHeaderNames(api, 'credentialHeaders', o.credentialHeaders);
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

  /** Who a request is to the cache, or undefined for one it leaves alone (not keyed, a Range, `no-store`). */
  const identify = async (method: string, url: string, header: Header): Promise<Identity | undefined> => {
    if (header('range') !== null) return undefined; // partial content is neither stored nor served
    const control = directives(header('cache-control'));
    if (control.includes('no-store')) return undefined;
    const base = o.key({ method, url, header });
    if (base === undefined) return undefined;
    const parts: string[] = [base];
    for (const name of credentialHeaders) {
      const value = header(name);
      if (value !== null) parts.push(name, value);
    }
    const key = await digest(JSON.stringify(parts));
    return { key, credentialed: parts.length > 1, noCache: control.includes('no-cache') };
  };

  /** The stored entry of a request, when the headers its `Vary` names match; a broken store is a miss. */
  const lookup = async (id: Identity, header: Header, signal: AbortSignal | undefined) => {
    let entry: CachedResponse | undefined;
    try {
      entry = await untilAborted(store.get(id.key), signal);
    } catch {
      if (signal?.aborted) throw signal.reason;
      return undefined; // a broken store must not turn a fallback into a crash
    }
    if (entry === undefined) return undefined;
    const variant = await variantOf(varyNames(storedHeader(entry, 'vary')), header);
    return variant === entry.variant ? entry : undefined;
  };

  /** Stores a copy of a good response in the background, when HTTP allows it and it was not stored just now. */
  const write = (id: Identity, response: Response, header: Header): void => {
    if (response.status === 206) return;
    const control = directives(response.headers.get('cache-control'));
    if (control.includes('no-store')) return;
    if (control.includes('private') && !id.credentialed) return; // private: only under its caller's credentials
    const vary = varyNames(response.headers.get('vary'));
    if (vary[0] === '*') return;
    const now = Date.now();
    const last = writtenAt.get(id.key);
    if (last !== undefined && now - last < o.rewriteAfterMs) return;
    writtenAt.delete(id.key);
    writtenAt.set(id.key, now);
    if (writtenAt.size > 10_000) {
      const oldest = writtenAt.keys().next().value;
      if (oldest !== undefined) writtenAt.delete(oldest);
    }
    // The copy reads the same stream as the caller: when the caller aborts, it fails and nothing is stored.
    const copy = response.clone();
    const job = Promise.all([copy.arrayBuffer(), variantOf(vary, header)])
      .then(([body, variant]) =>
        store.set(
          id.key,
          {
            status: copy.status,
            statusText: copy.statusText,
            headers: [...copy.headers].filter(([name]) => !NOT_STORED.has(name)),
            body: new Uint8Array(body),
            storedAt: now,
            variant,
          },
          retainMs,
        ),
      )
      .catch(() => {
        writtenAt.delete(id.key); // try again on the next success
      })
      .finally(() => writes.delete(job));
    writes.add(job);
  };

  const run = async (call: CacheCall, next: () => Promise<Response>): Promise<Response> => {
    const { input, init } = call;
    const header: Header = (name) => headerOf(input, init, name);
    const id = await identify(call.method, call.url, header);
    if (id === undefined) return next();
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    if (signal?.aborted) throw signal.reason;
    const emit = call.emit;
    let entry: CachedResponse | undefined;
    let looked = false;
    if (o.ttlMs > 0 && !id.noCache) {
      entry = await lookup(id, header, signal);
      looked = true;
      const now = Date.now();
      if (
        entry !== undefined &&
        now - entry.storedAt <= o.ttlMs &&
        !directives(storedHeader(entry, 'cache-control')).includes('no-cache')
      ) {
        emit?.({ type: 'cache.hit', at: now, key: call.group, ageMs: now - entry.storedAt });
        return respond(entry, 'hit', now);
      }
    }
    let response: Response | undefined;
    let error: unknown;
    try {
      response = await next();
    } catch (e) {
      error = e;
    }
    if (signal?.aborted) {
      // the caller gave up: that is no outage to cover, and the call rejects as `fetch` would
      if (response !== undefined) discard(response);
      throw signal.reason;
    }
    if (response !== undefined && !(call.failed?.() ?? o.isFailure(response))) {
      if (response.ok) write(id, response, header);
      return response;
    }
    if (!looked) entry = await lookup(id, header, signal);
    const now = Date.now();
    const failure = response === undefined ? error : `HTTP ${response.status}`;
    if (entry !== undefined && now - entry.storedAt <= retainMs) {
      if (response !== undefined) discard(response);
      emit?.({ type: 'cache.stale', at: now, key: call.group, ageMs: now - entry.storedAt, error: failure });
      return respond(entry, 'stale', now);
    }
    emit?.({ type: 'cache.miss', at: now, key: call.group, error: failure });
    // Nothing to stand in: the caller gets the call's own outcome, as without a cache.
    if (response !== undefined) return response;
    throw error;
  };

  return {
    store,
    run,
    emit: ownEmit,
    async flush() {
      while (writes.size > 0) await Promise.all([...writes]);
    },
    async keyOf(input, init) {
      const header: Header = (name) => headerOf(input, init, name);
      return (await identify(methodOf(input, init), urlOf(input), header))?.key;
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

/** Throws `invalid_options` unless `value` is an array of header names; returns them lower-cased, once each. */
function checkHeaderNames(api: string, name: string, value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((h) => typeof h === 'string' && HEADER_NAME.test(h))) {
    throw new ResilienceError(api, 'invalid_options', `${name} must be an array of header names`);
  }
  return [...new Set(value.map((h: string) => h.toLowerCase()))];
}
