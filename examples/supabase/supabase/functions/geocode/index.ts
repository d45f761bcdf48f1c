// POST /functions/v1/geocode {"address": "..."} or GET /functions/v1/geocode?address=...
// The caller must be a signed-in user (`authenticated`) or a server (a secret key, `service_role`),
// checked here (../_shared/auth.ts; verify_jwt = false): a miss costs a Google request, and the anon
// key is public. Browsers may call it: OPTIONS answers the CORS preflight, and every answer carries
// the CORS headers (origins from BALLAST_CORS_ORIGINS, any origin when unset). Answers from
// ballast.geocode_cache (Google's 30-day terms, stale coordinates while Google is down);
// geocode-purge deletes coordinates past 30 days.
//
// 200 {"result": {"placeId", "location": {"lat", "lng"}, "locatedAt"}, "source": "cache" | "google",
//      "stale", "ageSeconds"}, or {"result": null} when Google knows no such place (decision 1200);
// 204 to a CORS preflight, 400 invalid_request, 401 (no valid credentials), 403 (the anon role), 405,
// 503 store_unavailable / unavailable / rate_limited with Retry-After,
// 502 when Google refuses the project itself (denied, over_daily_limit, ...).

import type { SqlClient } from '@ballast/core/stores/sql';
import {
  type GeocodeCache,
  type GeocodeHit,
  geocodeCache,
  googleMapsClient,
  isGoogleMapsError,
  isGoogleMapsUsageError,
  normalizeGeocodeRequest,
  sqlGeocodeStore,
} from '@ballast/google-maps';
import { refuseUnless } from '../_shared/auth.ts';
import { database, env, storeUnavailable } from '../_shared/ballast.ts';

let cache: GeocodeCache | undefined;

/**
 * The CORS headers for `request`: `*` unless BALLAST_CORS_ORIGINS lists the origins allowed
 * (comma-separated), and then the request's own origin when it is one of them. Credentials
 * travel in headers, never cookies, so no Allow-Credentials.
 */
function corsHeaders(request: Request): Record<string, string> {
  const listed = Deno.env.get('BALLAST_CORS_ORIGINS');
  const common = {
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-allow-headers': 'authorization, apikey, content-type, x-client-info',
    'access-control-max-age': '86400',
  };
  if (!listed) return { ...common, 'access-control-allow-origin': '*' };
  const origin = request.headers.get('origin') ?? '';
  const allowed = listed.split(',').map((o) => o.trim());
  return allowed.includes(origin)
    ? { ...common, 'access-control-allow-origin': origin, vary: 'Origin' }
    : { vary: 'Origin' };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  Response.json(body, { status, headers });

const invalid = (message: string) => json(400, { error: 'invalid_request', message });

/** The address of a GET (`?address=`) or a POST (`{"address": "..."}`), or the 400 to answer. */
async function addressOf(request: Request): Promise<string | Response> {
  let address: unknown;
  if (request.method === 'GET') {
    address = new URL(request.url).searchParams.get('address') ?? undefined;
  } else {
    let body: unknown;
    try {
      body = JSON.parse(await request.text());
    } catch {
      return invalid('the body must be JSON: {"address": "..."}');
    }
    address = (body as { address?: unknown } | null)?.address;
  }
  if (address === undefined) return invalid('address is required');
  try {
    normalizeGeocodeRequest({ address: address as string }); // refuses what is not a string, empty or too long
  } catch (error) {
    if (isGoogleMapsUsageError(error)) return invalid(error.message);
    throw error;
  }
  return address as string;
}

function answer(hit: GeocodeHit | null) {
  if (hit === null) return { result: null };
  return {
    result: { placeId: hit.placeId, location: hit.location, locatedAt: new Date(hit.locatedAt).toISOString() },
    source: hit.source,
    stale: hit.stale,
    ageSeconds: Math.round(hit.ageMs / 1000),
  };
}

function open(db: SqlClient): GeocodeCache {
  const baseUrl = Deno.env.get('GOOGLE_MAPS_BASE_URL'); // for a local fake; unset in production
  const client = googleMapsClient({
    key: env('GOOGLE_MAPS_API_KEY'),
    ...(baseUrl ? { baseUrl } : {}),
    timeoutMs: 5_000,
    deadlineMs: 10_000, // retries included: well inside the request's 150 s
  });
  return geocodeCache({
    client,
    store: sqlGeocodeStore(db),
    onEvent: (event) => {
      // the entry's key (a hash) and an age: never the address or the API key
      if (event.type === 'geocode.stale')
        console.warn(`geocode: served stale (${Math.round(event.ageMs / 1000)} s) for ${event.key}`);
      if (event.type === 'geocode.store_error')
        console.warn(`geocode: the cache table could not be ${event.operation === 'read' ? 'read' : 'written'}`);
    },
  });
}

async function geocode(request: Request): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'POST')
    return json(405, { error: 'method_not_allowed' }, { allow: 'GET, POST, OPTIONS' });
  const refused = await refuseUnless(request, ['authenticated', 'service_role']);
  if (refused) return refused;
  const address = await addressOf(request);
  if (typeof address !== 'string') return address;
  let db: SqlClient;
  try {
    db = await database();
  } catch {
    // no call to Google while nothing could be stored: a retry shortly costs less
    return storeUnavailable();
  }
  cache ??= open(db);
  try {
    return json(200, answer(await cache.geocode(address, { signal: request.signal })));
  } catch (error) {
    if (isGoogleMapsError(error)) {
      if (error.transient) {
        // unavailable, rate_limited: Google could not answer, and nothing servable is cached
        const seconds = Math.max(1, Math.ceil((error.waitMs ?? 30_000) / 1000));
        return json(503, { error: error.code }, { 'retry-after': String(seconds) });
      }
      // denied, over_daily_limit, invalid_request: the project's key or billing, not the caller's request
      return json(502, { error: error.code, status: error.status ?? null });
    }
    if (isGoogleMapsUsageError(error)) return invalid(error.message);
    console.error(`geocode failed: ${error instanceof Error ? error.name : typeof error}`);
    return json(500, { error: 'internal' });
  }
}

/** Every answer carries the CORS headers, so a browser can read the errors too. */
async function withCors(request: Request): Promise<Response> {
  const cors = corsHeaders(request);
  // the preflight carries no credentials: it is answered before any check
  if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: cors });
  const response = await geocode(request);
  for (const [name, value] of Object.entries(cors)) response.headers.set(name, value);
  return response;
}

export default { fetch: withCors };
