import { isBallastError } from '@ballast/core/errors';
import { GoogleMapsUsageError } from './errors';
import { GeocodeCacheError } from './geocode-cache-errors';
import { MemoryTier, type TierSlot } from './geocode-cache-tier';
import { type GeocodeEntry, type GeocodePurgeResult, type GeocodeStore, memoryGeocodeStore } from './geocode-store';
import type { GeocodeRequest, GeocodeResult, LatLng } from './geocoding';
import { type GeocodeCacheRequest, type NormalizedGeocodeRequest, normalizeGeocodeRequest } from './normalize';

const DAY = 86_400_000;
/** How far ahead of this process's clock a writer's may be before its entry is treated as suspect. */
const MAX_SKEW_MS = 60_000;

/**
 * The longest Google's terms let latitude and longitude from the Geocoding
 * API be cached: 30 consecutive calendar days, then they must be deleted.
 * Place ids are exempt and may be kept indefinitely.
 */
export const GEOCODE_COORDINATES_MAX_MS = 30 * DAY;

/** What the cache needs from a geocoder; `googleMapsClient(...)` is one. */
export interface Geocoder {
  /** One forward, reverse or place-id lookup; rejects with the client's typed errors. */
  geocode(
    request: GeocodeRequest,
    options?: { signal?: AbortSignal },
  ): Promise<{ results: ReadonlyArray<Pick<GeocodeResult, 'placeId' | 'location'>> }>;
  /** The geocoding quota the client paces to, used for the batch's time estimate. */
  readonly quota?: { readonly limit: number; readonly intervalMs: number };
}

/** One answer of the cache. */
export interface GeocodeHit {
  /** Google's place id (the first result's). */
  placeId: string;
  /** The first result's coordinates (frozen: shared by every hit of the entry). */
  location: Readonly<LatLng>;
  /** `google`: answered by Google for this call; `cache`: served without a call, or stale during an outage. */
  source: 'cache' | 'google';
  /**
   * True when the coordinates are past `refreshAfterMs` and Google could not be
   * asked (outage, open breaker, quota): they are served anyway, within the terms' limit.
   */
  stale: boolean;
  /** How old the coordinates are, in milliseconds. */
  ageMs: number;
  /** When the coordinates were received from Google (ms since the epoch). */
  locatedAt: number;
}

/** Events of the cache, for logs and metrics. */
export type GeocodeCacheEvent =
  | {
      type: 'geocode.stale';
      /** The entry's key (a hash, no address). */
      key: string;
      ageMs: number;
      /** The error that kept Google from answering. */
      error: unknown;
    }
  | { type: 'geocode.refresh'; key: string; by: 'place_id' | 'request' }
  | { type: 'geocode.store_error'; operation: 'read' | 'write'; error: unknown };

/** Options of {@link geocodeCache}. */
export interface GeocodeCacheOptions {
  /** The geocoder asked on a miss: `googleMapsClient({ key })`. */
  client: Geocoder;
  /**
   * Where entries are kept: `sqlGeocodeStore(db)` for PGlite, Postgres or Supabase.
   * @default memoryGeocodeStore()
   */
  store?: GeocodeStore;
  /**
   * The in-process tier in front of the store (entries, least recently used
   * evicted), or `false` for none.
   * @default { maxEntries: 10_000 }
   */
  memory?: { maxEntries?: number } | false;
  /**
   * Coordinates are served without a call for this long, then refreshed by
   * place id on the next lookup (and served stale with their age if Google
   * cannot answer then). At most `coordinatesTtlMs`.
   * @default 7 days
   */
  refreshAfterMs?: number;
  /**
   * Coordinates are never served older than this, and the purge deletes them
   * (their place id stays). At most {@link GEOCODE_COORDINATES_MAX_MS} (30 days,
   * Google's terms): a larger value throws `terms_exceeded`.
   * @default 30 days
   */
  coordinatesTtlMs?: number;
  /**
   * A request with no result (`ZERO_RESULTS`) is answered `null` without a
   * call for this long.
   * @default 1 day
   */
  emptyTtlMs?: number;
  /**
   * Which errors mean "Google cannot answer now", so cached coordinates are
   * served stale instead. Every other error is rethrown.
   * @default a Ballast error with code `unavailable` or `rate_limited`
   */
  serveStaleOn?: (error: unknown) => boolean;
  /**
   * Google calls a batch keeps in flight; the client paces them to the quota.
   * @default 16
   */
  concurrency?: number;
  /** The clock, in ms since the epoch. @default Date.now */
  now?: () => number;
  /** Receives {@link GeocodeCacheEvent}s. Must not throw. */
  onEvent?: (event: GeocodeCacheEvent) => void;
}

/** Progress of {@link GeocodeCache.geocodeMany}. */
export interface GeocodeBatchProgress {
  /** Requests settled (served, answered or failed). */
  done: number;
  /** All requests. */
  total: number;
  /** Requests served from the cache without a call (duplicates of a hit included). */
  hits: number;
  /** Google calls made so far. */
  calls: number;
  /** Calls still to make. */
  pending: number;
  /** Requests that failed. */
  failed: number;
  /** Estimated time to finish, in ms, from the pace so far (or the quota, before there is one). */
  etaMs: number | undefined;
}

/** The fate of one request of a batch. */
export type GeocodeBatchOutcome =
  | { status: 'fulfilled'; value: GeocodeHit | null }
  | { status: 'rejected'; reason: unknown }
  | { status: 'skipped'; reason: unknown };

/** What {@link GeocodeCache.geocodeMany} resolves with: every request accounted for. */
export interface GeocodeBatchReport {
  /** One outcome per request, in input order. */
  outcomes: GeocodeBatchOutcome[];
  /** The requests that did not succeed, with their errors: rerun exactly these. */
  failures: Array<{ index: number; request: GeocodeCacheRequest; status: 'rejected' | 'skipped'; reason: unknown }>;
  /** True when every request succeeded. */
  ok: boolean;
  stats: {
    total: number;
    /** Distinct normalized requests. */
    distinct: number;
    /** Requests served from the cache without a call. */
    hits: number;
    /** Google calls made (one per distinct request not served from the cache). */
    calls: number;
    /** Requests answered with stale coordinates. */
    stale: number;
    failed: number;
    skipped: number;
    durationMs: number;
  };
}

/** Options of one batch. */
export interface GeocodeBatchOptions {
  /** Called as requests settle. Must not throw (errors it throws are ignored). */
  onProgress?: (progress: GeocodeBatchProgress) => void;
  /** Stops starting calls; requests not answered are reported `skipped`. */
  signal?: AbortSignal;
  /** Google calls in flight. @default the cache's `concurrency` */
  concurrency?: number;
}

/** A geocoder with a cache in front, within Google's caching terms. */
export interface GeocodeCache {
  /**
   * The first result for a request: from the cache while fresh, else from
   * Google (an entry with a place id is refreshed by place id), else, when
   * Google cannot answer, the cached coordinates marked `stale`. `null` when
   * the request has no result.
   *
   * Rejects with the client's error when Google cannot answer and nothing
   * servable is cached (`unavailable` at once while the breaker is open), or
   * with any definitive error (`denied`, `over_daily_limit`, ...), which is
   * never cached; with `GeocodeCacheError` (`invalid_request`) for a request
   * that cannot be geocoded.
   */
  geocode(request: GeocodeCacheRequest, options?: { signal?: AbortSignal }): Promise<GeocodeHit | null>;
  /**
   * Geocodes many requests: duplicates collapsed, cache hits served without a
   * call, the rest called at the client's pace with each answer stored as it
   * arrives, so a rerun after a crash or an outage calls only what is missing.
   * Never rejects for a request's own failure.
   */
  geocodeMany(requests: Iterable<GeocodeCacheRequest>, options?: GeocodeBatchOptions): Promise<GeocodeBatchReport>;
  /** Deletes coordinates past `coordinatesTtlMs` (keeping place ids) and empty answers past `emptyTtlMs`, in the store and in memory. */
  purge(): Promise<GeocodePurgeResult>;
  /** Waits for the writes in progress. */
  flush(): Promise<void>;
  /** The limits in force. */
  readonly limits: { readonly refreshAfterMs: number; readonly coordinatesTtlMs: number; readonly emptyTtlMs: number };
}

/** A stand-in for "not fresh": `undefined` is not usable, as `null` is a fresh empty answer. */
const NOT_FRESH = Symbol('not fresh');

function defaultServeStaleOn(error: unknown): boolean {
  return isBallastError(error) && (error.code === 'unavailable' || error.code === 'rate_limited');
}

/** A stored place id that Google no longer resolves (the address is asked instead). */
function placeGone(error: unknown): boolean {
  return isBallastError(error) && (error.code === 'not_found' || error.code === 'invalid_request');
}

/** Retention limits of the cache and the purge job, validated against the terms. */
export interface GeocodeRetention {
  /** @default 30 days (the maximum) */
  coordinatesTtlMs?: number;
  /** @default 1 day */
  emptyTtlMs?: number;
}

function duration(api: string, name: string, value: unknown, fallback: number, max = Number.POSITIVE_INFINITY): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new GoogleMapsUsageError(
      api,
      'invalid_options',
      `${name} must be a positive number of milliseconds, got ${String(value)}`,
    );
  }
  if (value > max) {
    throw new GoogleMapsUsageError(api, 'invalid_options', `${name} must be at most ${max} ms, got ${value}`);
  }
  return value;
}

/** @internal */
export function retention(api: string, options: GeocodeRetention): { coordinatesTtlMs: number; emptyTtlMs: number } {
  const ttl = options.coordinatesTtlMs;
  if (typeof ttl === 'number' && ttl > GEOCODE_COORDINATES_MAX_MS) {
    throw new GeocodeCacheError(
      api,
      'terms_exceeded',
      `coordinatesTtlMs is ${ttl} ms, but Google's terms allow caching latitude and longitude for 30 days (${GEOCODE_COORDINATES_MAX_MS} ms) at most; limits can only be lowered`,
    );
  }
  return {
    coordinatesTtlMs: duration(api, 'coordinatesTtlMs', ttl, GEOCODE_COORDINATES_MAX_MS),
    emptyTtlMs: duration(api, 'emptyTtlMs', options.emptyTtlMs, DAY),
  };
}

/**
 * A geocoder with a cache in front: a normalized key, an in-process tier, a
 * SQL (or memory) store, Google's 30-day limit on coordinates with place ids
 * kept to refresh by, stale coordinates served during an outage, and batch
 * geocoding that calls only what is missing.
 *
 * @example
 * ```ts
 * import { geocodeCache, sqlGeocodeStore, type Geocoder } from '@ballast/google-maps';
 * import { createPGlite } from '@ballast/core/stores/pglite';
 * import { migrate } from '@ballast/core/stores/sql';
 * declare const client: Geocoder; // googleMapsClient({ key })
 * const db = await createPGlite();
 * await migrate(db, { modules: ['geocode'] });
 * const cache = geocodeCache({ client, store: sqlGeocodeStore(db) });
 * const hit = await cache.geocode('1600 Amphitheatre Parkway, Mountain View, CA');
 * if (hit?.stale) console.log(`served from cache, ${Math.round(hit.ageMs / 3_600_000)} h old`);
 * setInterval(() => void cache.purge(), 3_600_000); // delete coordinates past 30 days
 * ```
 */
export function geocodeCache(options: GeocodeCacheOptions): GeocodeCache {
  const API = 'geocodeCache';
  if (options === null || typeof options !== 'object') {
    throw new GoogleMapsUsageError(API, 'invalid_options', 'options must be an object with a client');
  }
  const client = options.client;
  if (typeof (client as Partial<Geocoder> | undefined)?.geocode !== 'function') {
    throw new GoogleMapsUsageError(API, 'invalid_options', 'client must be a geocoder (googleMapsClient({ key }))');
  }
  const store = options.store ?? memoryGeocodeStore();
  for (const method of ['get', 'getMany', 'setMany', 'purge'] as const) {
    if (typeof (store as Partial<GeocodeStore>)[method] !== 'function') {
      throw new GoogleMapsUsageError(API, 'invalid_options', `store must be a geocode store (missing ${method})`);
    }
  }
  const { coordinatesTtlMs, emptyTtlMs } = retention(API, options);
  const refreshAfterMs = duration(
    API,
    'refreshAfterMs',
    options.refreshAfterMs,
    Math.min(7 * DAY, coordinatesTtlMs),
    coordinatesTtlMs,
  );
  const maxEntries = options.memory === false ? 0 : (options.memory?.maxEntries ?? 10_000);
  if (!Number.isInteger(maxEntries) || maxEntries < 0) {
    throw new GoogleMapsUsageError(
      API,
      'invalid_options',
      `memory.maxEntries must be a positive integer, got ${String(maxEntries)}`,
    );
  }
  const tier = maxEntries > 0 ? new MemoryTier(maxEntries) : undefined;
  const concurrency = options.concurrency ?? 16;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new GoogleMapsUsageError(
      API,
      'invalid_options',
      `concurrency must be a positive integer, got ${String(concurrency)}`,
    );
  }
  for (const name of ['serveStaleOn', 'now', 'onEvent'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new GoogleMapsUsageError(API, 'invalid_options', `${name} must be a function`);
    }
  }
  const serveStaleOn = options.serveStaleOn ?? defaultServeStaleOn;
  const now = options.now ?? Date.now;
  const onEvent = options.onEvent;
  const emit = (event: GeocodeCacheEvent) => {
    try {
      onEvent?.(event);
    } catch {
      // a listener's failure is not the lookup's
    }
  };
  const writer = groupWriter(store, (error) => emit({ type: 'geocode.store_error', operation: 'write', error }));
  const inflight = new Map<string, Promise<GeocodeHit | null>>();

  /** The answer an entry gives without a call, or NOT_FRESH. */
  function freshAnswer(entry: GeocodeEntry, t: number): GeocodeHit | null | typeof NOT_FRESH {
    if (entry.location !== null && entry.locatedAt !== null && entry.placeId !== null) {
      const ageMs = t - entry.locatedAt;
      // another process's clock may run a little ahead: up to a minute counts as age 0
      if (ageMs < refreshAfterMs && ageMs > -MAX_SKEW_MS) {
        return {
          placeId: entry.placeId,
          location: entry.location,
          source: 'cache',
          stale: false,
          ageMs: Math.max(0, ageMs),
          locatedAt: entry.locatedAt,
        };
      }
      return NOT_FRESH;
    }
    if (entry.placeId === null && t - entry.checkedAt < emptyTtlMs) return null;
    return NOT_FRESH;
  }

  async function readStore(key: string): Promise<GeocodeEntry | undefined> {
    try {
      return await store.get(key);
    } catch (error) {
      emit({ type: 'geocode.store_error', operation: 'read', error });
      return undefined;
    }
  }

  /** Asks Google (single-flight per key), stores the answer, or serves stale. */
  function ask(
    n: NormalizedGeocodeRequest,
    entry: GeocodeEntry | undefined,
    rawText: string | undefined,
  ): Promise<GeocodeHit | null> {
    let call = inflight.get(n.key);
    if (call === undefined) {
      call = askGoogle(n, entry, rawText).finally(() => inflight.delete(n.key));
      inflight.set(n.key, call);
    }
    return call;
  }

  async function askGoogle(
    n: NormalizedGeocodeRequest,
    entry: GeocodeEntry | undefined,
    rawText: string | undefined,
  ): Promise<GeocodeHit | null> {
    let answer: Awaited<ReturnType<Geocoder['geocode']>> | undefined;
    try {
      if (entry?.placeId != null && n.kind !== 'place') {
        emit({ type: 'geocode.refresh', key: n.key, by: 'place_id' });
        const language = (n.request as { language?: string }).language;
        try {
          answer = await client.geocode({ placeId: entry.placeId, ...(language === undefined ? {} : { language }) });
          if (answer.results.length === 0) answer = undefined;
        } catch (error) {
          if (!placeGone(error)) throw error;
        }
        if (answer === undefined) emit({ type: 'geocode.refresh', key: n.key, by: 'request' });
      }
      answer ??= await client.geocode(n.request);
    } catch (error) {
      const t = now();
      if (serveStaleOn(error) && entry?.location && entry.placeId !== null && entry.locatedAt !== null) {
        const ageMs = t - entry.locatedAt;
        if (ageMs < coordinatesTtlMs) {
          emit({ type: 'geocode.stale', key: n.key, ageMs, error });
          return {
            placeId: entry.placeId,
            location: entry.location,
            source: 'cache',
            stale: true,
            ageMs,
            locatedAt: entry.locatedAt,
          };
        }
      }
      throw error;
    }
    const t = now();
    const first = answer.results[0];
    const stored: GeocodeEntry = first
      ? {
          placeId: first.placeId,
          location: { lat: first.location.lat, lng: first.location.lng },
          locatedAt: t,
          checkedAt: t,
        }
      : { placeId: null, location: null, locatedAt: null, checkedAt: t };
    let slot: TierSlot | undefined;
    if (tier) slot = tier.set(n.key, stored, rawText);
    await writer.write(n.key, stored);
    const e = slot?.entry ?? stored;
    if (e.placeId === null || e.location === null || e.locatedAt === null) return null;
    return {
      placeId: e.placeId,
      location: e.location,
      source: 'google',
      stale: false,
      ageMs: 0,
      locatedAt: e.locatedAt,
    };
  }

  /** The cache's view of a key: the tier, else the store (also when the tier's copy is no longer fresh). */
  async function lookupEntry(key: string, t: number, rawText: string | undefined): Promise<GeocodeEntry | undefined> {
    const slot = tier?.get(key);
    if (slot !== undefined) {
      if (rawText !== undefined) tier?.alias(rawText, slot);
      if (freshAnswer(slot.entry, t) !== NOT_FRESH) return slot.entry;
    }
    const stored = await readStore(key);
    if (stored === undefined) return slot?.entry;
    if (tier) tier.set(key, stored, rawText);
    return stored;
  }

  async function geocodeSlow(
    request: GeocodeCacheRequest,
    signal: AbortSignal | undefined,
  ): Promise<GeocodeHit | null> {
    const n = normalizeGeocodeRequest(request);
    const rawText = typeof request === 'string' ? request : undefined;
    signal?.throwIfAborted();
    const entry = await lookupEntry(n.key, now(), rawText);
    if (entry !== undefined) {
      const hit = freshAnswer(entry, now());
      if (hit !== NOT_FRESH) return hit;
    }
    return abortable(ask(n, entry, rawText), signal);
  }

  const cache: GeocodeCache = {
    limits: { refreshAfterMs, coordinatesTtlMs, emptyTtlMs },

    geocode(request, callOptions) {
      // the hot path: an address string seen before, fresh in memory: two map reads, no hashing
      if (tier !== undefined && typeof request === 'string') {
        const slot = tier.byRaw(request);
        if (slot !== undefined) {
          const hit = freshAnswer(slot.entry, now());
          if (hit !== NOT_FRESH) return Promise.resolve(hit);
        }
      }
      return geocodeSlow(request, callOptions?.signal);
    },

    async geocodeMany(requests, batchOptions = {}) {
      const started = now();
      if (requests === null || typeof (requests as Partial<Iterable<unknown>>)?.[Symbol.iterator] !== 'function') {
        throw new GoogleMapsUsageError(
          'geocodeMany',
          'invalid_params',
          'requests must be an iterable (an array, a Set, ...)',
        );
      }
      const lanes = batchOptions.concurrency ?? concurrency;
      if (!Number.isInteger(lanes) || lanes < 1) {
        throw new GoogleMapsUsageError(
          'geocodeMany',
          'invalid_options',
          `concurrency must be a positive integer, got ${String(lanes)}`,
        );
      }
      const { signal, onProgress } = batchOptions;
      const items = [...requests];
      const outcomes: (GeocodeBatchOutcome | undefined)[] = new Array(items.length);
      interface Group {
        n: NormalizedGeocodeRequest;
        raw: string | undefined;
        indexes: number[];
        entry?: GeocodeEntry | undefined;
      }
      const groups = new Map<string, Group>();
      let hits = 0;
      let calls = 0;
      let failed = 0;
      let done = 0;
      let stale = 0;
      const settle = (indexes: readonly number[], outcome: GeocodeBatchOutcome) => {
        for (const i of indexes) outcomes[i] = outcome;
        done += indexes.length;
        if (outcome.status !== 'fulfilled') failed += indexes.length;
        else if (outcome.value?.stale) stale += indexes.length;
      };
      items.forEach((request, index) => {
        try {
          const n = normalizeGeocodeRequest(request);
          const group = groups.get(n.key);
          if (group) group.indexes.push(index);
          else groups.set(n.key, { n, raw: typeof request === 'string' ? request : undefined, indexes: [index] });
        } catch (reason) {
          settle([index], { status: 'rejected', reason });
        }
      });
      // what the cache answers: the tier, then the store in chunks
      const t0 = now();
      const unknown: Group[] = [];
      for (const group of groups.values()) {
        const slot = tier?.get(group.n.key);
        if (slot !== undefined) {
          group.entry = slot.entry;
          if (group.raw !== undefined) tier?.alias(group.raw, slot);
          const hit = freshAnswer(slot.entry, t0);
          if (hit !== NOT_FRESH) {
            hits += group.indexes.length;
            settle(group.indexes, { status: 'fulfilled', value: hit });
            continue;
          }
        }
        unknown.push(group);
      }
      const toCall: Group[] = [];
      for (let i = 0; i < unknown.length; i += 1000) {
        const chunk = unknown.slice(i, i + 1000);
        let found = new Map<string, GeocodeEntry>();
        try {
          found = await store.getMany(chunk.map((g) => g.n.key));
        } catch (error) {
          emit({ type: 'geocode.store_error', operation: 'read', error });
        }
        for (const group of chunk) {
          const entry = found.get(group.n.key);
          if (entry !== undefined) {
            group.entry = entry;
            if (tier) tier.set(group.n.key, entry, group.raw);
            const hit = freshAnswer(entry, t0);
            if (hit !== NOT_FRESH) {
              hits += group.indexes.length;
              settle(group.indexes, { status: 'fulfilled', value: hit });
              continue;
            }
          }
          toCall.push(group);
        }
      }
      const quota = client.quota;
      const progress = () => {
        if (!onProgress) return;
        const pending = toCall.length - calls;
        const elapsed = now() - callsStarted;
        let etaMs: number | undefined;
        if (pending === 0) etaMs = 0;
        else if (calls >= 10 && elapsed > 0) etaMs = Math.round((pending * elapsed) / calls);
        else if (quota && quota.limit > 0) etaMs = Math.round((pending * quota.intervalMs) / quota.limit);
        try {
          onProgress({ done, total: items.length, hits, calls, pending, failed, etaMs });
        } catch {
          // the listener's failure is not the batch's
        }
      };
      const callsStarted = now();
      progress();
      let next = 0;
      const lane = async () => {
        while (next < toCall.length) {
          if (signal?.aborted) return;
          const group = toCall[next++] as Group;
          calls++;
          try {
            const value = await ask(group.n, group.entry, group.raw);
            settle(group.indexes, { status: 'fulfilled', value });
          } catch (reason) {
            settle(group.indexes, { status: 'rejected', reason });
          }
          progress();
        }
      };
      await Promise.all(Array.from({ length: Math.min(lanes, toCall.length) }, lane));
      await writer.flush();
      const failures: GeocodeBatchReport['failures'] = [];
      let skipped = 0;
      // (a sparse array: `map` would skip the holes left by requests never answered)
      const final = Array.from(outcomes, (o, index): GeocodeBatchOutcome => {
        const outcome: GeocodeBatchOutcome = o ?? { status: 'skipped', reason: signal?.reason };
        if (outcome.status === 'skipped') skipped++;
        if (outcome.status !== 'fulfilled') {
          failures.push({
            index,
            request: items[index] as GeocodeCacheRequest,
            status: outcome.status,
            reason: outcome.reason,
          });
        }
        return outcome;
      });
      return {
        outcomes: final,
        failures,
        ok: failures.length === 0,
        stats: {
          total: items.length,
          distinct: groups.size,
          hits,
          calls,
          stale,
          failed: failed,
          skipped,
          durationMs: now() - started,
        },
      };
    },

    async purge() {
      const t = now();
      const result = await purgeStore(store, { coordinatesTtlMs, emptyTtlMs }, t);
      tier?.update((e) => {
        if (e.placeId === null) return t - e.checkedAt >= emptyTtlMs ? undefined : e;
        if (e.locatedAt !== null && t - e.locatedAt >= coordinatesTtlMs)
          return { ...e, location: null, locatedAt: null };
        return e;
      });
      return result;
    },

    flush: () => writer.flush(),
  };
  return cache;
}

async function purgeStore(
  store: GeocodeStore,
  limits: { coordinatesTtlMs: number; emptyTtlMs: number },
  t: number,
): Promise<GeocodePurgeResult> {
  try {
    return await store.purge({ locatedBefore: t - limits.coordinatesTtlMs, emptyBefore: t - limits.emptyTtlMs });
  } catch (error) {
    throw new GeocodeCacheError('purgeGeocodeCache', 'store_failed', 'the geocode store could not be purged', {
      cause: error,
    });
  }
}

/** Options of {@link purgeGeocodeCache}. */
export interface PurgeGeocodeCacheOptions extends GeocodeRetention {
  /** The store to purge: `sqlGeocodeStore(db)`. */
  store: GeocodeStore;
  /** The clock, in ms since the epoch. @default Date.now */
  now?: () => number;
}

/**
 * The purge job, for a schedule (a cron, a Supabase scheduled function):
 * deletes latitude and longitude received more than `coordinatesTtlMs` ago
 * (30 days, Google's limit, or less), keeping the place ids to refresh by,
 * and forgets empty answers past `emptyTtlMs`. Run it at least daily; lookups
 * never serve coordinates past the limit even between runs.
 *
 * @throws GeocodeCacheError `terms_exceeded` for a limit above 30 days,
 *   `store_failed` when the store cannot be purged.
 *
 * @example
 * ```ts
 * import { purgeGeocodeCache, sqlGeocodeStore } from '@ballast/google-maps';
 * import type { SqlClient } from '@ballast/core/stores/sql';
 * declare const db: SqlClient;
 * const { coordinates } = await purgeGeocodeCache({ store: sqlGeocodeStore(db) });
 * console.log(`deleted the coordinates of ${coordinates} entries`);
 * ```
 */
export async function purgeGeocodeCache(options: PurgeGeocodeCacheOptions): Promise<GeocodePurgeResult> {
  const API = 'purgeGeocodeCache';
  if (typeof (options?.store as Partial<GeocodeStore> | undefined)?.purge !== 'function') {
    throw new GoogleMapsUsageError(API, 'invalid_options', 'store must be a geocode store (sqlGeocodeStore(db))');
  }
  const limits = retention(API, options);
  return purgeStore(options.store, limits, (options.now ?? Date.now)());
}

/** Rejects with the signal's reason when it aborts first; the work itself goes on (its answer is still stored). */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Writes grouped: every entry written while a write is in flight goes in the
 * next one, so a batch stores each answer as it arrives without one round
 * trip per answer. A write that fails is reported, never thrown (the answer
 * was served; a rerun asks again).
 */
function groupWriter(store: GeocodeStore, onError: (error: unknown) => void) {
  let pending: Array<readonly [string, GeocodeEntry]> = [];
  let waiters: Array<() => void> = [];
  let running: Promise<void> | undefined;
  const loop = async () => {
    while (pending.length > 0) {
      const entries = pending;
      const wake = waiters;
      pending = [];
      waiters = [];
      try {
        await store.setMany(entries);
      } catch (error) {
        onError(error);
      }
      for (const w of wake) w();
    }
    running = undefined;
  };
  return {
    write(key: string, entry: GeocodeEntry): Promise<void> {
      pending.push([key, entry]);
      const done = new Promise<void>((resolve) => waiters.push(resolve));
      running ??= Promise.resolve().then(loop);
      return done;
    },
    async flush(): Promise<void> {
      while (running) await running;
    },
  };
}
