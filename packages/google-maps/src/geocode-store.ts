import { GoogleMapsUsageError } from './errors';
import type { LatLng } from './geocoding';

/**
 * What the geocode cache keeps for one normalized request, and nothing more:
 * Google's terms let a place id be stored indefinitely and latitude/longitude
 * for 30 days at most; addresses, components and the rest of the answer are
 * not stored.
 */
export interface GeocodeEntry {
  /** Google's place id, kept indefinitely; `null` when the request had no result (`ZERO_RESULTS`). */
  placeId: string | null;
  /** The coordinates; `null` once purged, or when there was no result. */
  location: LatLng | null;
  /** When `location` was received (ms since the epoch); `null` with it. */
  locatedAt: number | null;
  /** When Google last answered for this key (ms since the epoch). */
  checkedAt: number;
}

/** Limits of one purge, as instants: older coordinates are deleted, older empty answers forgotten. */
export interface GeocodePurgeLimits {
  /** Coordinates received at or before this instant (ms) are deleted; their place ids stay. */
  locatedBefore: number;
  /** No-result entries checked at or before this instant (ms) are deleted. */
  emptyBefore: number;
}

/** What one purge did. */
export interface GeocodePurgeResult {
  /** Entries whose coordinates were deleted (their place ids are kept). */
  coordinates: number;
  /** No-result entries deleted. */
  empty: number;
}

/**
 * A store of geocode entries by key. Drivers: {@link memoryGeocodeStore},
 * `sqlGeocodeStore` (PGlite, Postgres, Supabase).
 */
export interface GeocodeStore {
  /** The entry under `key`, if any (coordinates past their limit are the caller's to ignore). */
  get(key: string): Promise<GeocodeEntry | undefined>;
  /** The entries under `keys` that exist. */
  getMany(keys: readonly string[]): Promise<Map<string, GeocodeEntry>>;
  /** Writes entries (insert or replace). */
  setMany(entries: ReadonlyArray<readonly [key: string, entry: GeocodeEntry]>): Promise<void>;
  /** Deletes coordinates and empty answers past their limits. */
  purge(limits: GeocodePurgeLimits): Promise<GeocodePurgeResult>;
}

/** Options of {@link memoryGeocodeStore}. */
export interface MemoryGeocodeStoreOptions {
  /**
   * Entries kept at most; the least recently used goes first.
   * @default 100_000
   */
  maxEntries?: number;
}

/**
 * A geocode store in process memory (bounded, least recently used evicted):
 * for tests, scripts and single-process apps that may lose it on restart.
 *
 * @example
 * ```ts
 * import { memoryGeocodeStore } from '@ballast/google-maps';
 * const store = memoryGeocodeStore({ maxEntries: 10_000 });
 * ```
 */
export function memoryGeocodeStore(options: MemoryGeocodeStoreOptions = {}): GeocodeStore & { readonly size: number } {
  const max = options.maxEntries ?? 100_000;
  if (!Number.isInteger(max) || max < 1) {
    throw new GoogleMapsUsageError(
      'memoryGeocodeStore',
      'invalid_options',
      `maxEntries must be a positive integer, got ${String(max)}`,
    );
  }
  const map = new Map<string, GeocodeEntry>();
  const copy = (e: GeocodeEntry): GeocodeEntry => ({ ...e, location: e.location && { ...e.location } });
  const touch = (key: string): GeocodeEntry | undefined => {
    const e = map.get(key);
    if (e === undefined) return undefined;
    map.delete(key);
    map.set(key, e);
    return copy(e);
  };
  return {
    get size() {
      return map.size;
    },
    async get(key) {
      return touch(key);
    },
    async getMany(keys) {
      const out = new Map<string, GeocodeEntry>();
      for (const key of keys) {
        const e = touch(key);
        if (e) out.set(key, e);
      }
      return out;
    },
    async setMany(entries) {
      for (const [key, entry] of entries) {
        map.delete(key);
        map.set(key, copy(entry));
        if (map.size > max) map.delete(map.keys().next().value as string);
      }
    },
    async purge({ locatedBefore, emptyBefore }) {
      let coordinates = 0;
      let empty = 0;
      for (const [key, e] of map) {
        if (e.placeId === null) {
          if (e.checkedAt <= emptyBefore) {
            map.delete(key);
            empty++;
          }
        } else if (e.locatedAt !== null && e.locatedAt <= locatedBefore) {
          map.set(key, { ...e, location: null, locatedAt: null });
          coordinates++;
        }
      }
      return { coordinates, empty };
    },
  };
}
