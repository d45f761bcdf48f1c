/**
 * A store locator's geocoding service: addresses in, coordinates out, through
 * Ballast's geocode cache in the app's own database. It keeps answering
 * from the cache (marked stale, with the age) while Google is down, fails
 * fast with 503 for an address it has never seen, and stays within Google's
 * 30-day limit on coordinates through an hourly purge.
 *
 * The app never reads the environment; main.ts does.
 */
import { migrate, type SqlClient } from '@ballast/core/stores/sql';
import {
  type GeocodeBatchProgress,
  type GeocodeCache,
  type GeocodeHit,
  type Geocoder,
  geocodeCache,
  isGeocodeCacheError,
  isGoogleMapsError,
  isGoogleMapsUsageError,
  type purgeGeocodeCache,
  sqlGeocodeStore,
} from '@ballast/google-maps';

export interface GeocodingAppOptions {
  db: SqlClient;
  /** `googleMapsClient({ key })`. */
  client: Geocoder;
  /** The schema of Ballast's tables. @default 'ballast' */
  schema?: string;
  /** Coordinates are refreshed (by place id) after this long. @default 7 days */
  refreshAfterMs?: number;
  /** The clock, for tests. @default Date.now */
  now?: () => number;
}

export interface GeocodingApp {
  /** `GET /geocode?address=…`, `POST /stores/import` (a JSON array of addresses), `POST /jobs/purge`. */
  fetch(request: Request): Promise<Response>;
  /** Geocodes a list (an import): duplicates collapsed, cached ones free, resumable. */
  importStores(
    addresses: readonly string[],
    onProgress?: (p: GeocodeBatchProgress) => void,
  ): ReturnType<GeocodeCache['geocodeMany']>;
  /** Deletes coordinates older than 30 days (place ids stay). Run it hourly. */
  purge(): ReturnType<typeof purgeGeocodeCache>;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  Response.json(body, { status, headers });

function answer(hit: GeocodeHit) {
  return {
    placeId: hit.placeId,
    lat: hit.location.lat,
    lng: hit.location.lng,
    source: hit.source,
    stale: hit.stale,
    ageSeconds: Math.round(hit.ageMs / 1000),
  };
}

/** Maps a lookup's error to a response: the caller's mistake, Google unavailable, or Google refusing us. */
function failure(error: unknown): Response {
  if (isGoogleMapsUsageError(error)) return json(400, { error: 'invalid_request', message: error.message });
  if (isGoogleMapsError(error)) {
    if (error.code === 'unavailable' || error.code === 'rate_limited') {
      const retry = Math.max(1, Math.ceil((error.waitMs ?? 30_000) / 1000));
      return json(503, { error: error.code }, { 'retry-after': String(retry) });
    }
    // denied, over_daily_limit, ...: our key or billing, not the caller's request
    return json(502, { error: error.code, status: error.status ?? null });
  }
  if (isGeocodeCacheError(error)) return json(503, { error: error.code }, { 'retry-after': '30' });
  throw error;
}

export async function createGeocodingApp(options: GeocodingAppOptions): Promise<GeocodingApp> {
  const { db, client } = options;
  const schema = options.schema ?? 'ballast';
  await migrate(db, { schema, modules: ['geocode'] });
  const store = sqlGeocodeStore(db, { schema });
  const now = options.now ?? Date.now;
  const cache = geocodeCache({
    client,
    store,
    now,
    ...(options.refreshAfterMs === undefined ? {} : { refreshAfterMs: options.refreshAfterMs }),
  });

  const app: GeocodingApp = {
    async fetch(request) {
      const url = new URL(request.url);
      if (request.method === 'GET' && url.pathname === '/geocode') {
        const address = url.searchParams.get('address');
        if (!address) return json(400, { error: 'invalid_request', message: 'address is required' });
        try {
          const hit = await cache.geocode(address, { signal: request.signal });
          return hit ? json(200, answer(hit)) : json(404, { error: 'no_result' });
        } catch (error) {
          return failure(error);
        }
      }
      if (request.method === 'POST' && url.pathname === '/stores/import') {
        const body: unknown = await request.json().catch(() => undefined);
        if (!Array.isArray(body) || !body.every((a) => typeof a === 'string') || body.length > 100_000) {
          return json(400, { error: 'invalid_request', message: 'the body must be a JSON array of address strings' });
        }
        const report = await app.importStores(body);
        return json(report.ok ? 200 : 207, {
          stats: report.stats,
          results: report.outcomes.map((o) =>
            o.status === 'fulfilled'
              ? o.value && answer(o.value)
              : { error: (o.reason as { code?: string } | undefined)?.code ?? o.status },
          ),
        });
      }
      if (request.method === 'POST' && url.pathname === '/jobs/purge') {
        try {
          return json(200, await app.purge());
        } catch (error) {
          return failure(error);
        }
      }
      return json(404, { error: 'not_found' });
    },
    importStores: (addresses, onProgress) => cache.geocodeMany(addresses, onProgress ? { onProgress } : {}),
    purge: () => cache.purge(),
  };
  return app;
}
