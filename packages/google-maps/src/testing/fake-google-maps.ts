import { serveFetch } from '@ballast/core/testing';
import { GoogleMapsUsageError } from '../errors';
import {
  encodePolyline,
  type FakePlace,
  foldAddress,
  GAZETTEER,
  gazetteerLookup,
  hashedPlace,
  haversineMeters,
  placeOfId,
} from './gazetteer';

/**
 * What the fake does instead of answering normally:
 * - `http_500`, `http_502`, `http_503`, `http_504`: that HTTP status (Geocoding: an HTML error page; Routes: a `google.rpc.Status` body);
 * - `hang`: never answers (the request waits until the caller gives up);
 * - `refuse`: no connection: `fetch` rejects with `ECONNREFUSED`; the local server closes its port (or resets `times` connections);
 * - `over_query_limit`: Geocoding `OVER_QUERY_LIMIT`, Routes `429 RESOURCE_EXHAUSTED`;
 * - `unknown_error`: Geocoding `UNKNOWN_ERROR`, Routes `500 INTERNAL`;
 * - `over_daily_limit`: Geocoding `OVER_DAILY_LIMIT`, Routes `429 RESOURCE_EXHAUSTED` (a daily quota);
 * - `request_denied`: Geocoding `REQUEST_DENIED`, Routes `403 PERMISSION_DENIED`.
 */
export type FakeOutage =
  | 'http_500'
  | 'http_502'
  | 'http_503'
  | 'http_504'
  | 'hang'
  | 'refuse'
  | 'over_query_limit'
  | 'unknown_error'
  | 'over_daily_limit'
  | 'request_denied';

/** The APIs the fake serves. */
export type FakeApi = 'geocoding' | 'routes' | 'routeMatrix';

/** Which requests an outage applies to, and for how many. */
export interface FakeOutageOptions {
  /** Only the next `times` matching requests; afterwards the fake answers normally again. @default until `outage(null)` */
  times?: number;
  /** Only requests to this API. @default every API */
  api?: FakeApi;
}

/** Per-minute quotas of the fake, as Google enforces them per project. */
export interface FakeQuotas {
  /** @default 3000 */
  geocoding?: number;
  /** @default 3000 */
  routes?: number;
  /** Elements (origins × destinations) per minute. @default 3000 */
  routeMatrixElements?: number;
}

/** Options for {@link createFakeGoogleMaps}. */
export interface FakeGoogleMapsOptions {
  /**
   * The fake's clock in milliseconds (quota windows, counters, departure times).
   * @default Date.now
   */
  now?: () => number;
  /**
   * The only API keys accepted; any other key gets `REQUEST_DENIED` (Routes:
   * `400 INVALID_ARGUMENT`, reason `API_KEY_INVALID`).
   * @default any non-empty key
   */
  keys?: readonly string[];
  /**
   * Per-minute quotas over a sliding minute of arrivals: one number for every
   * API, one per API, or `false` for none. Requests refused for quota do not count.
   * @default 3000
   */
  quotaPerMinute?: number | FakeQuotas | false;
  /**
   * Delay before each answer, in milliseconds (on the timers, so fake timers drive it).
   * @default 0
   */
  latencyMs?: number;
}

/** A request the fake received, for assertions. */
export interface FakeGoogleMapsRequest {
  api: FakeApi;
  method: string;
  /** Path and query, with the key replaced by `redacted`. */
  path: string;
  /** When it arrived, on the fake's clock. */
  at: number;
  /** The folded address of a forward geocoding request. */
  address?: string;
  /** Google's status (`OK`, `OVER_QUERY_LIMIT`, `RESOURCE_EXHAUSTED`, ...), or `hang` / `refused`. */
  status: string;
  /** HTTP status; 0 when no answer was given. */
  httpStatus: number;
}

/** A running local fake server. */
export interface FakeGoogleMapsServer {
  /** `http://127.0.0.1:<port>`: pass as the client's `baseUrl`. */
  readonly url: string;
  readonly port: number;
  /** Stops the server for good (open connections are destroyed). */
  close(): Promise<void>;
}

/** A fake Google Maps Platform (Geocoding and Routes), in memory. */
export interface FakeGoogleMaps {
  /** Answers one request (the web-standard core behind `fetch`, msw and `listen`); `Response.error()` for a refused connection. */
  handle(request: Request): Promise<Response>;
  /** A `fetch` that talks to the fake without a network; `refuse` rejects as `fetch` does (`ECONNREFUSED`). */
  readonly fetch: typeof fetch;
  /** Starts a local HTTP server on 127.0.0.1 (an ephemeral port unless given). */
  listen(options?: { port?: number }): Promise<FakeGoogleMapsServer>;
  /**
   * Switches an outage on (`null`: back to normal, every outage cleared). Outages with `times`
   * queue up and apply in order; one without `times` lasts until cleared and replaces the earlier
   * one without `times` for the same `api`.
   */
  outage(mode: FakeOutage | null, options?: FakeOutageOptions): void;
  /** Requests received so far, oldest first. */
  readonly requests: readonly FakeGoogleMapsRequest[];
  /** Requests received for one address (folded as the fake folds it), or in all when none is given. */
  calls(address?: string): number;
  /** Requests received per API. */
  callsByApi(): Record<FakeApi, number>;
  /** The most requests of one API (matrix: elements) that arrived within any 60 s, refused ones included. */
  maxPerMinute(api?: FakeApi): number;
  /** Adds a place to this fake's gazetteer. */
  addPlace(place: FakePlace): void;
  /** Forgets requests and counters and clears outages (places stay). */
  reset(): void;
}

const GEOCODE_PATH = '/maps/api/geocode/json';
const ROUTES_PATH = '/directions/v2:computeRoutes';
const MATRIX_PATH = '/distanceMatrix/v2:computeRouteMatrix';
const OUTAGES: ReadonlySet<string> = new Set([
  'http_500',
  'http_502',
  'http_503',
  'http_504',
  'hang',
  'refuse',
  'over_query_limit',
  'unknown_error',
  'over_daily_limit',
  'request_denied',
]);
/** Outages of Google's front end: they come before any check of the key or the request. */
const INFRASTRUCTURE: ReadonlySet<string> = new Set(['http_500', 'http_502', 'http_503', 'http_504', 'hang', 'refuse']);
/** km/h per travel mode, for durations. */
const SPEED: Record<string, number> = { DRIVE: 50, TWO_WHEELER: 40, BICYCLE: 15, WALK: 5, TRANSIT: 30 };
/** Further apart than this, no route exists (an ocean in between). */
const MAX_ROUTE_METERS = 5_000_000;
const ROAD_FACTOR = 1.25;

function usage(api: string, message: string): GoogleMapsUsageError {
  return new GoogleMapsUsageError(api, 'invalid_options', message);
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body, null, 2), {
    status,
    headers: { 'content-type': 'application/json; charset=UTF-8' },
  });
}

function rpcError(httpStatus: number, status: string, message: string, details?: unknown[]): Response {
  return json(httpStatus, { error: { code: httpStatus, message, status, ...(details ? { details } : {}) } });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface ActiveOutage {
  mode: FakeOutage;
  api: FakeApi | undefined;
  left: number;
}

interface Waypoint {
  location?: { latLng?: { latitude?: unknown; longitude?: unknown } };
  placeId?: unknown;
  address?: unknown;
}

class BadRequest extends Error {}

/**
 * Creates a fake Google Maps Platform: the Geocoding API (forward, reverse,
 * place id) and the Routes API (`computeRoutes`, `computeRouteMatrix`) with
 * Google's statuses and error bodies, quotas, and switchable outages.
 * Answers are deterministic: a small built-in gazetteer of well-known
 * places, and any other address hashed to stable coordinates and a stable
 * place id. An address containing the word "nowhere" has no result
 * (`ZERO_RESULTS`, an empty route, a matrix element `NOT_FOUND`).
 *
 * @example
 * ```ts
 * const fake = createFakeGoogleMaps();
 * const maps = googleMapsClient({ key: 'test-key', fetch: fake.fetch });
 * fake.outage('http_503', { times: 2 }); // retried, then answered
 * const { results } = await maps.geocode({ address: 'Eiffel Tower' });
 * ```
 */
export function createFakeGoogleMaps(options: FakeGoogleMapsOptions = {}): FakeGoogleMaps {
  if (typeof options !== 'object' || options === null) throw usage('createFakeGoogleMaps', 'options must be an object');
  if (options.now !== undefined && typeof options.now !== 'function')
    throw usage('createFakeGoogleMaps', 'now must be a function');
  if (
    options.keys !== undefined &&
    (!Array.isArray(options.keys) || !options.keys.every((k) => typeof k === 'string' && k !== ''))
  )
    throw usage('createFakeGoogleMaps', 'keys must be non-empty strings');
  const latencyMs = options.latencyMs ?? 0;
  if (typeof latencyMs !== 'number' || !(latencyMs >= 0)) throw usage('createFakeGoogleMaps', 'latencyMs must be ≥ 0');
  const q = options.quotaPerMinute ?? 3000;
  const positive = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n > 0;
  let quotas: Record<FakeApi, number> | undefined;
  if (q === false) quotas = undefined;
  else if (typeof q === 'number') {
    if (!positive(q))
      throw usage('createFakeGoogleMaps', 'quotaPerMinute must be a positive integer, an object or false');
    quotas = { geocoding: q, routes: q, routeMatrix: q };
  } else if (typeof q === 'object' && q !== null) {
    quotas = { geocoding: q.geocoding ?? 3000, routes: q.routes ?? 3000, routeMatrix: q.routeMatrixElements ?? 3000 };
    if (!Object.values(quotas).every(positive))
      throw usage('createFakeGoogleMaps', 'each quotaPerMinute must be a positive integer');
  } else throw usage('createFakeGoogleMaps', 'quotaPerMinute must be a positive integer, an object or false');
  const clock = options.now ?? Date.now;
  const keys = options.keys ? new Set(options.keys) : undefined;

  const places: FakePlace[] = [...GAZETTEER];
  const requests: FakeGoogleMapsRequest[] = [];
  const byAddress = new Map<string, number>();
  /** Arrival times (and weights) of accepted requests, per API, for the quota window. */
  const windows: Record<FakeApi, Array<{ at: number; weight: number }>> = {
    geocoding: [],
    routes: [],
    routeMatrix: [],
  };
  /** Every arrival (refused ones too), for maxPerMinute. */
  const arrivals: Record<FakeApi, Array<{ at: number; weight: number }>> = {
    geocoding: [],
    routes: [],
    routeMatrix: [],
  };
  let outages: ActiveOutage[] = [];
  const outageListeners = new Set<() => void>();

  const lookupAddress = (folded: string): FakePlace | undefined =>
    places.find(
      (p) => foldAddress(p.formattedAddress) === folded || p.aliases?.some((a) => foldAddress(a) === folded),
    ) ?? gazetteerLookup(folded);
  const lookupId = (id: string): FakePlace | undefined => places.find((p) => p.placeId === id) ?? placeOfId(id);

  /** The outage that applies to this request, consuming one of its `times`. */
  const takeOutage = (api: FakeApi, infrastructure: boolean): FakeOutage | undefined => {
    const active = outages.find(
      (o) => (o.api === undefined || o.api === api) && INFRASTRUCTURE.has(o.mode) === infrastructure,
    );
    if (!active) return undefined;
    if (Number.isFinite(active.left)) {
      active.left--;
      if (active.left <= 0) {
        outages = outages.filter((o) => o !== active);
        notify();
      }
    }
    return active.mode;
  };
  const notify = () => {
    for (const listener of outageListeners) listener();
  };

  /** Whether a request of `weight` fits the API's sliding minute; records it when it does. */
  const admit = (api: FakeApi, at: number, weight: number): boolean => {
    if (!quotas) return true;
    const window = windows[api];
    while (window.length > 0 && (window[0]?.at ?? 0) <= at - 60_000) window.shift();
    const used = window.reduce((sum, e) => sum + e.weight, 0);
    if (used + weight > quotas[api]) return false;
    window.push({ at, weight });
    return true;
  };

  const geocodeResult = (place: FakePlace, partial: boolean) => {
    const components: Array<{ long_name: string; short_name: string; types: string[] }> = [];
    if (place.streetNumber)
      components.push({ long_name: place.streetNumber, short_name: place.streetNumber, types: ['street_number'] });
    if (place.route) components.push({ long_name: place.route, short_name: place.route, types: ['route'] });
    if (place.locality)
      components.push({ long_name: place.locality, short_name: place.locality, types: ['locality', 'political'] });
    components.push({ long_name: place.country, short_name: place.country, types: ['country', 'political'] });
    if (place.postalCode)
      components.push({ long_name: place.postalCode, short_name: place.postalCode, types: ['postal_code'] });
    const d = 0.0013;
    return {
      address_components: components,
      formatted_address: place.formattedAddress,
      geometry: {
        location: { lat: place.lat, lng: place.lng },
        location_type: place.locationType,
        viewport: {
          northeast: { lat: place.lat + d, lng: place.lng + d },
          southwest: { lat: place.lat - d, lng: place.lng - d },
        },
      },
      ...(partial ? { partial_match: true } : {}),
      place_id: place.placeId,
      types: place.types,
    };
  };

  const geocodeBody = (status: string, results: unknown[] = [], message?: string) =>
    json(200, { results, status, ...(message ? { error_message: message } : {}) });

  const geocode = (url: URL): Response => {
    const p = url.searchParams;
    const address = p.get('address');
    const components = p.get('components');
    const latlng = p.get('latlng');
    const placeId = p.get('place_id');
    const given = [address !== null || components !== null, latlng !== null, placeId !== null].filter(Boolean).length;
    if (given !== 1)
      return geocodeBody(
        'INVALID_REQUEST',
        [],
        "Invalid request. Missing the 'address', 'components', 'latlng' or 'place_id' parameter.",
      );
    if (address !== null || components !== null) {
      const folded = foldAddress(address ?? '');
      const filters = new Map<string, string>();
      for (const part of (components ?? '').split('|')) {
        const [name, value] = part.split(':');
        if (name && value) filters.set(name.trim().toLowerCase(), value.trim());
      }
      if ((address !== null && folded === '') || (address === null && filters.size === 0))
        return geocodeBody('INVALID_REQUEST', [], "Invalid request. Invalid 'address' parameter.");
      if (/\bnowhere\b/.test(folded)) return geocodeBody('ZERO_RESULTS');
      const country = filters.get('country');
      const known = folded === '' ? undefined : lookupAddress(folded);
      if (known) {
        if (country && known.country.toLowerCase() !== country.toLowerCase()) return geocodeBody('ZERO_RESULTS');
        return geocodeBody('OK', [geocodeResult(known, false)]);
      }
      const key = folded === '' ? foldAddress([...filters].map(([k, v]) => `${k} ${v}`).join(' ')) : folded;
      return geocodeBody('OK', [geocodeResult(hashedPlace(key, country), true)]);
    }
    if (latlng !== null) {
      const match = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(latlng);
      const lat = Number(match?.[1]);
      const lng = Number(match?.[2]);
      if (!match || Math.abs(lat) > 90 || Math.abs(lng) > 180)
        return geocodeBody('INVALID_REQUEST', [], "Invalid request. Invalid 'latlng' parameter.");
      const near = places
        .map((place) => ({ place, d: haversineMeters(place, { lat, lng }) }))
        .sort((a, b) => a.d - b.d)[0];
      const place: FakePlace =
        near && near.d <= 250
          ? near.place
          : {
              ...hashedPlace(`@${lat},${lng}`),
              lat,
              lng,
              formattedAddress: `${lat}, ${lng}`,
              locationType: 'GEOMETRIC_CENTER',
              types: ['route'],
            };
      const resultTypes = p.get('result_type')?.split('|');
      const locationTypes = p.get('location_type')?.split('|');
      if (resultTypes && !place.types.some((t) => resultTypes.includes(t))) return geocodeBody('ZERO_RESULTS');
      if (locationTypes && !locationTypes.includes(place.locationType)) return geocodeBody('ZERO_RESULTS');
      return geocodeBody('OK', [geocodeResult(place, false)]);
    }
    const id = placeId ?? '';
    if (!/^[A-Za-z0-9_-]+$/.test(id))
      return geocodeBody('INVALID_REQUEST', [], "Invalid request. Invalid 'place_id' parameter.");
    const place = lookupId(id);
    if (!place) return geocodeBody('NOT_FOUND', [], 'The provided Place ID is no longer valid.');
    const located =
      place.synthetic && id.length > 8 && placeOfId(id)?.formattedAddress.startsWith('@') ? reverseOfId(place) : place;
    return geocodeBody('OK', [geocodeResult(located, false)]);
  };

  /** A place id made from a point (`@lat,lng`) resolves to that point. */
  const reverseOfId = (place: FakePlace): FakePlace => {
    const m = /^@(-?[\d.]+),(-?[\d.]+)$/.exec(place.formattedAddress.toLowerCase());
    if (!m) return place;
    const lat = Number(m[1]);
    const lng = Number(m[2]);
    return {
      ...place,
      lat,
      lng,
      formattedAddress: `${lat}, ${lng}`,
      locationType: 'GEOMETRIC_CENTER',
      types: ['route'],
    };
  };

  const resolveWaypoint = (value: unknown, field: string): FakePlace | undefined => {
    if (typeof value !== 'object' || value === null) throw new BadRequest(`Invalid ${field}: a waypoint is required.`);
    const w = value as Waypoint;
    if (w.location !== undefined) {
      const lat = w.location?.latLng?.latitude;
      const lng = w.location?.latLng?.longitude;
      if (typeof lat !== 'number' || typeof lng !== 'number' || Math.abs(lat) > 90 || Math.abs(lng) > 180)
        throw new BadRequest(`Invalid ${field}.location.latLng.`);
      return { ...hashedPlace(`@${lat},${lng}`), lat, lng };
    }
    if (w.placeId !== undefined) {
      if (typeof w.placeId !== 'string') throw new BadRequest(`Invalid ${field}.placeId.`);
      const place = lookupId(w.placeId);
      if (!place) throw new BadRequest(`Invalid ${field}.placeId: ${w.placeId} is not a valid place id.`);
      return reverseOfId(place);
    }
    if (typeof w.address === 'string' && w.address.trim() !== '') {
      const folded = foldAddress(w.address);
      if (/\bnowhere\b/.test(folded)) return undefined;
      return lookupAddress(folded) ?? hashedPlace(folded);
    }
    throw new BadRequest(`Invalid ${field}: set location, placeId or address.`);
  };

  const checkCommon = (body: Record<string, unknown>, now: number) => {
    const mode = body.travelMode ?? 'DRIVE';
    if (typeof mode !== 'string' || !(mode in SPEED))
      throw new BadRequest(`Invalid value at 'travel_mode' (${String(mode)}).`);
    if (body.routingPreference !== undefined) {
      if (mode !== 'DRIVE' && mode !== 'TWO_WHEELER')
        throw new BadRequest('Routing preference can only be set when travel_mode is DRIVE or TWO_WHEELER.');
      if (!['TRAFFIC_UNAWARE', 'TRAFFIC_AWARE', 'TRAFFIC_AWARE_OPTIMAL'].includes(String(body.routingPreference)))
        throw new BadRequest(`Invalid value at 'routing_preference' (${String(body.routingPreference)}).`);
    }
    if (body.departureTime !== undefined) {
      const t = typeof body.departureTime === 'string' ? Date.parse(body.departureTime) : Number.NaN;
      if (Number.isNaN(t)) throw new BadRequest("Invalid value at 'departure_time'.");
      if (t < now - 60_000) throw new BadRequest('Timestamp must be set to a future time.');
    }
    return SPEED[mode] ?? 50;
  };

  const routeBetween = (stops: FakePlace[], speedKmh: number, stretch = 1) => {
    const legs = [];
    let total = 0;
    for (let i = 1; i < stops.length; i++) {
      const from = stops[i - 1] as FakePlace;
      const to = stops[i] as FakePlace;
      const distanceMeters = Math.round(haversineMeters(from, to) * ROAD_FACTOR * stretch);
      total += distanceMeters;
      legs.push({
        distanceMeters,
        duration: `${Math.round(distanceMeters / ((speedKmh * 1000) / 3600))}s`,
        startLocation: { latLng: { latitude: from.lat, longitude: from.lng } },
        endLocation: { latLng: { latitude: to.lat, longitude: to.lng } },
      });
    }
    const seconds = Math.round(total / ((speedKmh * 1000) / 3600));
    return {
      legs,
      distanceMeters: total,
      duration: `${seconds}s`,
      staticDuration: `${seconds}s`,
      polyline: { encodedPolyline: encodePolyline(stops) },
      description: stops.length > 2 ? 'via stops' : 'direct',
    };
  };

  const routesKeyError = (request: Request, url: URL): Response | undefined => {
    const key = request.headers.get('x-goog-api-key') ?? url.searchParams.get('key');
    if (!key)
      return rpcError(403, 'PERMISSION_DENIED', 'The request is missing a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_MISSING', domain: 'googleapis.com' },
      ]);
    if (keys && !keys.has(key))
      return rpcError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' },
      ]);
    return undefined;
  };

  const fieldMaskOf = (request: Request, url: URL): string | undefined =>
    request.headers.get('x-goog-fieldmask') ??
    url.searchParams.get('$fields') ??
    url.searchParams.get('fields') ??
    undefined;

  const outageResponse = (api: FakeApi, mode: FakeOutage): Response | 'hang' | 'refuse' => {
    if (mode === 'hang' || mode === 'refuse') return mode;
    if (mode.startsWith('http_')) {
      const status = Number(mode.slice(5));
      if (api === 'geocoding')
        return new Response(`<html><body>Error ${status} (Server Error)</body></html>`, {
          status,
          headers: { 'content-type': 'text/html; charset=UTF-8' },
        });
      const name = status === 503 ? 'UNAVAILABLE' : status === 504 ? 'DEADLINE_EXCEEDED' : 'INTERNAL';
      return rpcError(
        status,
        name,
        status === 503 ? 'The service is currently unavailable.' : 'Internal error encountered.',
      );
    }
    if (api === 'geocoding') {
      const messages: Record<string, string> = {
        over_query_limit: 'You have exceeded your rate-limit for this API.',
        over_daily_limit: 'You have exceeded your daily request quota for this API.',
        request_denied: 'This API project is not authorized to use this API.',
      };
      return geocodeBody(mode.toUpperCase(), [], messages[mode]);
    }
    if (mode === 'unknown_error') return rpcError(500, 'INTERNAL', 'Internal error encountered.');
    if (mode === 'request_denied')
      return rpcError(403, 'PERMISSION_DENIED', 'This API project is not authorized to use this API.');
    return rpcError(
      429,
      'RESOURCE_EXHAUSTED',
      mode === 'over_daily_limit' ? 'Quota exceeded: requests per day.' : 'Quota exceeded: requests per minute.',
    );
  };

  const answer = async (request: Request, record: FakeGoogleMapsRequest, url: URL): Promise<Response> => {
    const api = record.api;
    const now = record.at;
    const down = takeOutage(api, true);
    if (down) {
      const out = outageResponse(api, down);
      if (typeof out === 'string') return out === 'hang' ? hang(request, record) : refused(record);
      return out;
    }
    // Then the key: a bad key is refused whatever else is wrong.
    if (api === 'geocoding') {
      const key = url.searchParams.get('key');
      if (!key)
        return geocodeBody(
          'REQUEST_DENIED',
          [],
          'You must use an API key to authenticate each request to Google Maps Platform APIs.',
        );
      if (keys && !keys.has(key)) return geocodeBody('REQUEST_DENIED', [], 'The provided API key is invalid.');
    } else {
      const refused = routesKeyError(request, url);
      if (refused) return refused;
    }
    let body: Record<string, unknown> = {};
    let weight = 1;
    if (api !== 'geocoding') {
      if (!fieldMaskOf(request, url))
        return rpcError(
          400,
          'INVALID_ARGUMENT',
          "FieldMask is a required parameter: set the 'X-Goog-FieldMask' header.",
        );
      try {
        const parsed = JSON.parse((await request.text()) || 'null') as unknown;
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        body = parsed as Record<string, unknown>;
      } catch {
        return rpcError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
      }
      if (api === 'routeMatrix') {
        const o = Array.isArray(body.origins) ? body.origins.length : 0;
        const d = Array.isArray(body.destinations) ? body.destinations.length : 0;
        weight = Math.max(1, o * d);
      }
    }
    arrivals[api].push({ at: now, weight });
    const mode = takeOutage(api, false);
    if (mode) return outageResponse(api, mode) as Response;
    if (!admit(api, now, weight)) {
      if (api === 'geocoding')
        return geocodeBody('OVER_QUERY_LIMIT', [], 'You have exceeded your rate-limit for this API.');
      return rpcError(
        429,
        'RESOURCE_EXHAUSTED',
        api === 'routeMatrix'
          ? 'Quota exceeded: route matrix elements per minute.'
          : 'Quota exceeded: requests per minute.',
      );
    }
    if (api === 'geocoding') return geocode(url);
    const mask = fieldMaskOf(request, url) ?? '';
    try {
      const speed = checkCommon(body, now);
      if (api === 'routes') {
        if (body.origin === undefined) throw new BadRequest('Origin must be set.');
        if (body.destination === undefined) throw new BadRequest('Destination must be set.');
        const mids = body.intermediates ?? [];
        if (!Array.isArray(mids)) throw new BadRequest("Invalid value at 'intermediates'.");
        if (mids.length > 25) throw new BadRequest('Too many intermediate waypoints: at most 25 are allowed.');
        const stops = [
          resolveWaypoint(body.origin, 'origin'),
          ...mids.map((w, i) => resolveWaypoint(w, `intermediates[${i}]`)),
          resolveWaypoint(body.destination, 'destination'),
        ];
        if (stops.some((s) => s === undefined)) return json(200, {});
        const found = stops as FakePlace[];
        for (let i = 1; i < found.length; i++)
          if (haversineMeters(found[i - 1] as FakePlace, found[i] as FakePlace) > MAX_ROUTE_METERS)
            return json(200, {});
        const routes = [routeBetween(found, speed)];
        if (body.computeAlternativeRoutes === true) routes.push(routeBetween(found, speed, 1.08));
        return json(200, applyMask({ routes }, mask));
      }
      const origins = body.origins;
      const destinations = body.destinations;
      if (!Array.isArray(origins) || origins.length === 0) throw new BadRequest('Origins must be set.');
      if (!Array.isArray(destinations) || destinations.length === 0) throw new BadRequest('Destinations must be set.');
      const max = body.routingPreference === 'TRAFFIC_AWARE_OPTIMAL' ? 100 : 625;
      if (weight > max)
        throw new BadRequest(`The product of origins and destinations must be at most ${max} (was ${weight}).`);
      const from = origins.map((o, i) =>
        resolveWaypoint((o as { waypoint?: unknown })?.waypoint, `origins[${i}].waypoint`),
      );
      const to = destinations.map((d, i) =>
        resolveWaypoint((d as { waypoint?: unknown })?.waypoint, `destinations[${i}].waypoint`),
      );
      const elements: unknown[] = [];
      for (const [i, a] of from.entries())
        for (const [j, b] of to.entries()) {
          // proto3 JSON leaves out zero values: index 0 and an OK status are absent.
          const element: Record<string, unknown> = {};
          if (i !== 0) element.originIndex = i;
          if (j !== 0) element.destinationIndex = j;
          if (!a || !b) {
            element.status = {
              code: 5,
              message: `Waypoint ${!a ? `origins[${i}]` : `destinations[${j}]`} could not be found.`,
            };
          } else if (haversineMeters(a, b) > MAX_ROUTE_METERS) {
            element.status = {};
            element.condition = 'ROUTE_NOT_FOUND';
          } else {
            const route = routeBetween([a, b], speed);
            element.status = {};
            element.condition = 'ROUTE_EXISTS';
            element.distanceMeters = route.distanceMeters;
            element.duration = route.duration;
            element.staticDuration = route.staticDuration;
          }
          elements.push(applyMask(element, mask));
        }
      // Elements stream in as they are computed, not in request order.
      return json(200, elements.reverse());
    } catch (error) {
      if (error instanceof BadRequest) return rpcError(400, 'INVALID_ARGUMENT', error.message);
      throw error;
    }
  };

  const hang = (request: Request, record: FakeGoogleMapsRequest): Promise<Response> => {
    record.status = 'hang';
    return new Promise<Response>((_, reject) => {
      const signal = request.signal;
      if (signal.aborted) reject(signal.reason);
      else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  };
  const refused = (record: FakeGoogleMapsRequest): Response => {
    record.status = 'refused';
    return Response.error();
  };

  const handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const path = url.pathname;
    const api: FakeApi | undefined =
      path.endsWith(GEOCODE_PATH) && request.method === 'GET'
        ? 'geocoding'
        : path.endsWith(ROUTES_PATH) && request.method === 'POST'
          ? 'routes'
          : path.endsWith(MATRIX_PATH) && request.method === 'POST'
            ? 'routeMatrix'
            : undefined;
    if (api === undefined) return new Response('Not Found', { status: 404, headers: { 'content-type': 'text/plain' } });
    const shown = new URL(url);
    if (shown.searchParams.has('key')) shown.searchParams.set('key', 'redacted');
    const record: FakeGoogleMapsRequest = {
      api,
      method: request.method,
      path: `${shown.pathname}${shown.search}`,
      at: arrivalOf(request) ?? clock(),
      status: '',
      httpStatus: 0,
    };
    requests.push(record);
    const address = api === 'geocoding' ? url.searchParams.get('address') : null;
    if (address !== null) {
      // counted on arrival, so requests an outage or a quota answered count too
      const folded = foldAddress(address);
      record.address = folded;
      byAddress.set(folded, (byAddress.get(folded) ?? 0) + 1);
    }
    if (latencyMs > 0) await sleep(latencyMs);
    const response = await answer(request, record, url);
    if (response.type === 'error') return response;
    record.httpStatus = response.status;
    if (!record.status) {
      const text = await response.clone().text();
      try {
        const body = JSON.parse(text) as { status?: unknown; error?: { status?: unknown } };
        record.status = String(
          api === 'geocoding'
            ? (body.status ?? 'INVALID')
            : (body.error?.status ?? (response.ok ? 'OK' : response.status)),
        );
      } catch {
        record.status = String(response.status);
      }
    }
    return response;
  };

  const fakeFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const response = await handle(request);
    if (response.type === 'error') {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1'), { code: 'ECONNREFUSED' }),
      });
    }
    return response;
  }) as typeof fetch;

  return {
    handle,
    fetch: fakeFetch,
    listen: (listenOptions = {}) => listen(handle, listenOptions.port ?? 0, clock, outageListeners, () => outages),
    outage(mode, outageOptions = {}) {
      if (mode === null) {
        outages = [];
        notify();
        return;
      }
      if (typeof mode !== 'string' || !OUTAGES.has(mode))
        throw usage('outage', `mode must be one of ${[...OUTAGES].join(', ')} or null`);
      const times = outageOptions.times ?? Number.POSITIVE_INFINITY;
      if (times !== Number.POSITIVE_INFINITY && (!Number.isInteger(times) || times < 1))
        throw usage('outage', 'times must be a positive integer');
      const api = outageOptions.api;
      if (api !== undefined && api !== 'geocoding' && api !== 'routes' && api !== 'routeMatrix')
        throw usage('outage', "api must be 'geocoding', 'routes' or 'routeMatrix'");
      // an outage until cleared replaces the one before it for the same API (it would otherwise never
      // apply: the earlier one never runs out); outages with `times` queue up in order
      if (times === Number.POSITIVE_INFINITY) outages = outages.filter((o) => Number.isFinite(o.left) || o.api !== api);
      outages.push({ mode, api, left: times });
      notify();
    },
    requests,
    calls(address) {
      if (address === undefined) return requests.length;
      return byAddress.get(foldAddress(address)) ?? 0;
    },
    callsByApi() {
      const out: Record<FakeApi, number> = { geocoding: 0, routes: 0, routeMatrix: 0 };
      for (const r of requests) out[r.api]++;
      return out;
    },
    maxPerMinute(api = 'geocoding') {
      const list = arrivals[api];
      let best = 0;
      let sum = 0;
      let start = 0;
      for (let end = 0; end < list.length; end++) {
        sum += list[end]?.weight ?? 0;
        while ((list[start]?.at ?? 0) <= (list[end]?.at ?? 0) - 60_000) sum -= list[start++]?.weight ?? 0;
        best = Math.max(best, sum);
      }
      return best;
    },
    addPlace(place) {
      if (
        typeof place !== 'object' ||
        place === null ||
        typeof place.placeId !== 'string' ||
        !/^[A-Za-z0-9_-]+$/.test(place.placeId)
      )
        throw usage('addPlace', 'place must have a placeId of letters, digits, _ and -');
      if (
        typeof place.lat !== 'number' ||
        typeof place.lng !== 'number' ||
        Math.abs(place.lat) > 90 ||
        Math.abs(place.lng) > 180
      )
        throw usage('addPlace', 'place must have lat in [-90, 90] and lng in [-180, 180]');
      places.unshift({ ...place });
    },
    reset() {
      requests.length = 0;
      byAddress.clear();
      for (const api of ['geocoding', 'routes', 'routeMatrix'] as const) {
        windows[api] = [];
        arrivals[api] = [];
      }
      outages = [];
      notify();
    },
  };
}

/** Keeps only the fields a field mask names (`a.b` paths; arrays are masked per element). */
export function applyMask(value: unknown, mask: string): unknown {
  const paths = mask
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (paths.includes('*')) return value;
  type Tree = { [key: string]: Tree | true };
  const tree: Tree = {};
  for (const path of paths) {
    let node: Tree = tree;
    const parts = path.split('.');
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1) node[part] = true;
      else {
        const next = node[part];
        if (next === true) break;
        node = node[part] = next ?? {};
      }
    }
  }
  const pick = (v: unknown, t: Tree): unknown => {
    if (Array.isArray(v)) return v.map((e) => pick(e, t));
    if (typeof v !== 'object' || v === null) return v;
    const out: Record<string, unknown> = {};
    for (const [k, sub] of Object.entries(t)) {
      const field = (v as Record<string, unknown>)[k];
      if (field === undefined) continue;
      out[k] = sub === true ? field : pick(field, sub);
    }
    return out;
  };
  return pick(value, tree);
}

/** When the local server saw each request's first byte. */
const arrivalTimes = new WeakMap<Request, number>();
function arrivalOf(request: Request): number | undefined {
  return arrivalTimes.get(request);
}

async function listen(
  handle: (request: Request) => Promise<Response>,
  port: number,
  clock: () => number,
  outageListeners: Set<() => void>,
  current: () => ActiveOutage[],
): Promise<FakeGoogleMapsServer> {
  const server = await serveFetch(handle, {
    port,
    clock,
    onArrival: (request, at) => arrivalTimes.set(request, at),
    crashResponse: (error) =>
      new Response(`fake Google Maps crashed: ${String(error)}`, {
        status: 500,
        headers: { 'content-type': 'text/plain' },
      }),
  });
  let closed = false;
  let listening = true;
  /** A `refuse` outage with no count closes the port; clearing it opens the port again. */
  const sync = () => {
    if (closed) return;
    const refuse = current().some((o) => o.mode === 'refuse' && !Number.isFinite(o.left));
    if (refuse && listening) {
      listening = false;
      void server.pause();
    } else if (!refuse && !listening) {
      listening = true;
      server.resume().catch(() => {
        listening = false;
      });
    }
  };
  outageListeners.add(sync);
  sync();
  return {
    url: server.url,
    port: server.port,
    close: () => {
      closed = true;
      outageListeners.delete(sync);
      return server.close();
    },
  };
}
