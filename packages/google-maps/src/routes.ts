import { z } from 'zod';
import { type GoogleMapsApi, type GoogleMapsError, GoogleMapsUsageError, googleMapsError } from './errors';
import { type RpcStatus, rpcErrorCode, rpcStatusName, rpcStatusOfHttp } from './status';

/** A point as the Routes API writes it. */
export interface RoutesLatLng {
  latitude: number;
  longitude: number;
}

/** A stop of a route: a point, a place id or an address. */
export type Waypoint = (
  | { location: { latLng: RoutesLatLng; heading?: number } }
  | { placeId: string }
  | { address: string }
) & { via?: boolean; vehicleStopover?: boolean; sideOfRoad?: boolean };

/** How the route is travelled. */
export type TravelMode = 'DRIVE' | 'BICYCLE' | 'WALK' | 'TWO_WHEELER' | 'TRANSIT';

/** How traffic is taken into account (DRIVE and TWO_WHEELER only). */
export type RoutingPreference = 'TRAFFIC_UNAWARE' | 'TRAFFIC_AWARE' | 'TRAFFIC_AWARE_OPTIMAL';

/** The body of `computeRoutes`. */
export interface ComputeRoutesRequest {
  origin: Waypoint;
  destination: Waypoint;
  /** Up to 25 stops between origin and destination. */
  intermediates?: readonly Waypoint[];
  /** @default 'DRIVE' (Google's default) */
  travelMode?: TravelMode;
  routingPreference?: RoutingPreference;
  /** When to leave: a `Date` or an RFC 3339 string; a time in the past fails. */
  departureTime?: Date | string;
  computeAlternativeRoutes?: boolean;
  routeModifiers?: { avoidTolls?: boolean; avoidHighways?: boolean; avoidFerries?: boolean };
  /** BCP-47 language of the instructions. */
  languageCode?: string;
  units?: 'METRIC' | 'IMPERIAL';
}

/** The body of `computeRouteMatrix`: every origin × destination. */
export interface ComputeRouteMatrixRequest {
  origins: readonly Waypoint[];
  destinations: readonly Waypoint[];
  travelMode?: TravelMode;
  routingPreference?: RoutingPreference;
  departureTime?: Date | string;
  languageCode?: string;
  units?: 'METRIC' | 'IMPERIAL';
}

/** Per-call options of the Routes methods. */
export interface RoutesCallOptions {
  /**
   * The response fields to return (`X-Goog-FieldMask`), a comma-separated
   * string or a list of paths. Always sent explicitly; `*` is refused (Google
   * advises against it in production).
   * @default computeRoutes: 'routes.duration,routes.distanceMeters,routes.polyline.encodedPolyline';
   *   computeRouteMatrix: 'originIndex,destinationIndex,status,condition,distanceMeters,duration'
   *   (a matrix mask always gets originIndex, destinationIndex, status and condition added)
   */
  fieldMask?: string | readonly string[];
  /** Aborts the call (and its retries). */
  signal?: AbortSignal;
}

/** One route of a `computeRoutes` answer (the fields the mask asked for; others pass through). */
export interface Route {
  distanceMeters?: number;
  /** A duration string such as `"165s"` (see {@link durationSeconds}). */
  duration?: string;
  staticDuration?: string;
  polyline?: { encodedPolyline?: string };
  legs?: unknown[];
  [field: string]: unknown;
}

/** A `computeRoutes` answer. No route found is an empty `routes`. */
export interface ComputeRoutesResponse {
  routes: Route[];
  fallbackInfo?: unknown;
  [field: string]: unknown;
}

/** One element of a route matrix, with its own status. */
export interface RouteMatrixElement {
  originIndex: number;
  destinationIndex: number;
  /** True when the element's status is OK and a route exists. */
  ok: boolean;
  /** The element's `google.rpc.Status` (`OK` when Google sent none). */
  status: { code: number; name: RpcStatus | 'UNKNOWN'; message?: string };
  /** `ROUTE_EXISTS` or `ROUTE_NOT_FOUND`, when the mask asked for it. */
  condition?: string;
  distanceMeters?: number;
  duration?: string;
  [field: string]: unknown;
}

/** Seconds in a protobuf duration string (`"165s"`, `"1.5s"`); undefined when it is not one. */
export function durationSeconds(duration: string | undefined): number | undefined {
  if (typeof duration !== 'string') return undefined;
  const match = /^(-?\d+(?:\.\d+)?)s$/.exec(duration);
  return match ? Number(match[1]) : undefined;
}

const ROUTES_MASK = 'routes.duration,routes.distanceMeters,routes.polyline.encodedPolyline';
const MATRIX_MASK = 'originIndex,destinationIndex,status,condition,distanceMeters,duration';
const MATRIX_REQUIRED = ['originIndex', 'destinationIndex', 'status', 'condition'];
const MASK_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const TRAVEL_MODES: ReadonlySet<string> = new Set(['DRIVE', 'BICYCLE', 'WALK', 'TWO_WHEELER', 'TRANSIT']);
const PREFERENCES: ReadonlySet<string> = new Set(['TRAFFIC_UNAWARE', 'TRAFFIC_AWARE', 'TRAFFIC_AWARE_OPTIMAL']);
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const LANGUAGE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

function bad(api: string, message: string): GoogleMapsUsageError {
  return new GoogleMapsUsageError(api, 'invalid_params', message);
}

function checkMask(api: string, mask: RoutesCallOptions['fieldMask'], fallback: string, required: string[]): string {
  if (mask === undefined) return fallback;
  const paths =
    typeof mask === 'string' ? mask.split(',').map((p) => p.trim()) : Array.isArray(mask) ? [...mask] : null;
  if (!paths || paths.length === 0 || paths.some((p) => typeof p !== 'string' || p === ''))
    throw bad(api, 'fieldMask must be a comma-separated list of field paths such as routes.duration');
  if (paths.includes('*')) throw bad(api, "fieldMask '*' is refused: name the fields you need");
  for (const p of paths)
    if (!MASK_PATH.test(p)) throw bad(api, `fieldMask path ${JSON.stringify(p)} is not a field path`);
  for (const r of required) if (!paths.includes(r)) paths.push(r);
  return [...new Set(paths)].join(',');
}

function checkWaypoint(api: string, value: unknown, field: string): Waypoint {
  if (typeof value !== 'object' || value === null) throw bad(api, `${field} must be a waypoint`);
  const w = value as Record<string, unknown>;
  const kinds = ['location', 'placeId', 'address'].filter((k) => w[k] !== undefined);
  if (kinds.length !== 1) throw bad(api, `${field} must have exactly one of location, placeId and address`);
  if (w.location !== undefined) {
    const ll = (w.location as { latLng?: Partial<RoutesLatLng> } | null)?.latLng;
    const lat = ll?.latitude;
    const lng = ll?.longitude;
    if (typeof lat !== 'number' || !Number.isFinite(lat) || lat < -90 || lat > 90)
      throw bad(api, `${field}.location.latLng.latitude must be a number from -90 to 90`);
    if (typeof lng !== 'number' || !Number.isFinite(lng) || lng < -180 || lng > 180)
      throw bad(api, `${field}.location.latLng.longitude must be a number from -180 to 180`);
  }
  if (w.placeId !== undefined && (typeof w.placeId !== 'string' || !/^[A-Za-z0-9_-]{1,1024}$/.test(w.placeId)))
    throw bad(api, `${field}.placeId must be a place id`);
  if (w.address !== undefined && (typeof w.address !== 'string' || w.address.trim() === ''))
    throw bad(api, `${field}.address must be a non-empty string`);
  return value as Waypoint;
}

interface Common {
  travelMode?: unknown;
  routingPreference?: unknown;
  departureTime?: unknown;
  languageCode?: unknown;
  units?: unknown;
}

function checkCommon(api: string, r: Common, body: Record<string, unknown>): void {
  if (r.travelMode !== undefined) {
    if (typeof r.travelMode !== 'string' || !TRAVEL_MODES.has(r.travelMode))
      throw bad(api, 'travelMode must be DRIVE, BICYCLE, WALK, TWO_WHEELER or TRANSIT');
    body.travelMode = r.travelMode;
  }
  if (r.routingPreference !== undefined) {
    if (typeof r.routingPreference !== 'string' || !PREFERENCES.has(r.routingPreference))
      throw bad(api, 'routingPreference must be TRAFFIC_UNAWARE, TRAFFIC_AWARE or TRAFFIC_AWARE_OPTIMAL');
    const mode = r.travelMode ?? 'DRIVE';
    if (mode !== 'DRIVE' && mode !== 'TWO_WHEELER')
      throw bad(api, 'routingPreference applies to travelMode DRIVE and TWO_WHEELER only');
    body.routingPreference = r.routingPreference;
  }
  if (r.departureTime !== undefined) {
    const t = r.departureTime;
    if (t instanceof Date) {
      if (Number.isNaN(t.getTime())) throw bad(api, 'departureTime is an invalid Date');
      body.departureTime = t.toISOString();
    } else if (typeof t === 'string' && RFC3339.test(t) && !Number.isNaN(Date.parse(t))) body.departureTime = t;
    else throw bad(api, 'departureTime must be a Date or an RFC 3339 timestamp');
  }
  if (r.languageCode !== undefined) {
    if (typeof r.languageCode !== 'string' || !LANGUAGE.test(r.languageCode))
      throw bad(api, 'languageCode must be a BCP-47 code such as en-US');
    body.languageCode = r.languageCode;
  }
  if (r.units !== undefined) {
    if (r.units !== 'METRIC' && r.units !== 'IMPERIAL') throw bad(api, 'units must be METRIC or IMPERIAL');
    body.units = r.units;
  }
}

/** A Routes request checked and encoded. @internal */
export interface EncodedRoutes {
  body: string;
  fieldMask: string;
  flightKey: string;
  /** Origins × destinations (route matrix). */
  elements: number;
}

/** Checks a `computeRoutes` request; throws `GoogleMapsUsageError` `invalid_params`. @internal */
export function encodeRoutes(api: string, request: ComputeRoutesRequest, options: RoutesCallOptions): EncodedRoutes {
  if (typeof request !== 'object' || request === null) throw bad(api, 'the request must be an object');
  const fieldMask = checkMask(api, options.fieldMask, ROUTES_MASK, []);
  const body: Record<string, unknown> = {
    origin: checkWaypoint(api, request.origin, 'origin'),
    destination: checkWaypoint(api, request.destination, 'destination'),
  };
  if (request.intermediates !== undefined) {
    if (!Array.isArray(request.intermediates)) throw bad(api, 'intermediates must be an array of waypoints');
    if (request.intermediates.length > 25) throw bad(api, 'intermediates must be at most 25 waypoints');
    body.intermediates = request.intermediates.map((w, i) => checkWaypoint(api, w, `intermediates[${i}]`));
  }
  checkCommon(api, request, body);
  if (request.computeAlternativeRoutes !== undefined) {
    if (typeof request.computeAlternativeRoutes !== 'boolean')
      throw bad(api, 'computeAlternativeRoutes must be a boolean');
    body.computeAlternativeRoutes = request.computeAlternativeRoutes;
  }
  if (request.routeModifiers !== undefined) {
    const m = request.routeModifiers as Record<string, unknown> | null;
    if (typeof m !== 'object' || m === null) throw bad(api, 'routeModifiers must be an object');
    for (const [k, v] of Object.entries(m))
      if (!['avoidTolls', 'avoidHighways', 'avoidFerries', 'avoidIndoor'].includes(k) || typeof v !== 'boolean')
        throw bad(api, `routeModifiers.${k} is not a boolean route modifier`);
    body.routeModifiers = m;
  }
  const json = JSON.stringify(body);
  return { body: json, fieldMask, flightKey: `${fieldMask}\n${json}`, elements: 1 };
}

/** Checks a `computeRouteMatrix` request; throws `GoogleMapsUsageError` `invalid_params`. @internal */
export function encodeRouteMatrix(
  api: string,
  request: ComputeRouteMatrixRequest,
  options: RoutesCallOptions,
): EncodedRoutes {
  if (typeof request !== 'object' || request === null) throw bad(api, 'the request must be an object');
  const fieldMask = checkMask(api, options.fieldMask, MATRIX_MASK, MATRIX_REQUIRED);
  const { origins, destinations } = request;
  if (!Array.isArray(origins) || origins.length === 0) throw bad(api, 'origins must be a non-empty array of waypoints');
  if (!Array.isArray(destinations) || destinations.length === 0)
    throw bad(api, 'destinations must be a non-empty array of waypoints');
  const elements = origins.length * destinations.length;
  const max = request.routingPreference === 'TRAFFIC_AWARE_OPTIMAL' ? 100 : 625;
  if (elements > max) throw bad(api, `the matrix has ${elements} elements; Google accepts at most ${max} per request`);
  const body: Record<string, unknown> = {
    origins: origins.map((w, i) => ({ waypoint: checkWaypoint(api, w, `origins[${i}]`) })),
    destinations: destinations.map((w, i) => ({ waypoint: checkWaypoint(api, w, `destinations[${i}]`) })),
  };
  checkCommon(api, request, body);
  const json = JSON.stringify(body);
  return { body: json, fieldMask, flightKey: `${fieldMask}\n${json}`, elements };
}

const routesBodySchema = z.looseObject({
  routes: z.array(z.looseObject({ distanceMeters: z.number().optional(), duration: z.string().optional() })).optional(),
});

/** Parses a `computeRoutes` answer; an answer that is not one is `invalid_response`. @internal */
export async function parseRoutes(response: Response, what: string): Promise<ComputeRoutesResponse> {
  const text = await response.text();
  let json: unknown;
  try {
    // Google answers no route with `{}` (proto3 leaves the empty list out); an empty 200 is a broken answer, not that
    json = JSON.parse(text);
  } catch (error) {
    throw googleMapsError('invalid_response', `${what}: the answer is not JSON`, {
      api: 'routes',
      httpStatus: response.status,
      cause: error,
    });
  }
  const parsed = routesBodySchema.safeParse(json);
  if (!parsed.success)
    throw googleMapsError('invalid_response', `${what}: the answer is not a computeRoutes body`, {
      api: 'routes',
      httpStatus: response.status,
      cause: parsed.error,
    });
  return { ...parsed.data, routes: (parsed.data.routes ?? []) as Route[] };
}

const elementSchema = z.looseObject({
  originIndex: z.number().int().nonnegative().default(0),
  destinationIndex: z.number().int().nonnegative().default(0),
  status: z.looseObject({ code: z.number().int().optional(), message: z.string().optional() }).optional(),
  condition: z.string().optional(),
  distanceMeters: z.number().optional(),
  duration: z.string().optional(),
});

/** The JSON values of a route-matrix answer: one JSON array, or (streamed) one element per line. */
function matrixItems(text: string): unknown[] | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  try {
    const json = JSON.parse(trimmed) as unknown;
    return Array.isArray(json) ? json : [json];
  } catch {
    try {
      return trimmed
        .split('\n')
        .map((line) =>
          line
            .trim()
            .replace(/^[[,]\s*/, '')
            .replace(/\s*[\],]$/, ''),
        )
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as unknown);
    } catch {
      return undefined;
    }
  }
}

/**
 * Parses a route-matrix answer element by element, each with its own status,
 * ordered by origin then destination. @internal
 */
export async function parseRouteMatrix(response: Response, what: string): Promise<RouteMatrixElement[]> {
  const items = matrixItems(await response.text());
  if (items === undefined)
    throw googleMapsError('invalid_response', `${what}: the answer is not a JSON array of elements`, {
      api: 'routeMatrix',
      httpStatus: response.status,
    });
  const out: RouteMatrixElement[] = [];
  for (const [i, item] of items.entries()) {
    const parsed = elementSchema.safeParse(item);
    if (!parsed.success)
      throw googleMapsError('invalid_response', `${what}: element ${i} is not a route-matrix element`, {
        api: 'routeMatrix',
        httpStatus: response.status,
        cause: parsed.error,
      });
    const { status, ...rest } = parsed.data;
    const code = status?.code ?? 0;
    const element = {
      ...rest,
      ok: code === 0 && rest.condition !== 'ROUTE_NOT_FOUND',
      status: {
        code,
        name: rpcStatusName(code) ?? 'UNKNOWN',
        ...(status?.message === undefined ? {} : { message: status.message }),
      },
    };
    out.push(element as RouteMatrixElement);
  }
  return out.sort((a, b) => a.originIndex - b.originIndex || a.destinationIndex - b.destinationIndex);
}

/** The typed error of a Routes error answer (`google.rpc.Status`). @internal */
export async function routesErrorOf(api: GoogleMapsApi, response: Response, what: string): Promise<GoogleMapsError> {
  let json: unknown;
  try {
    json = JSON.parse(await response.text()) as unknown;
  } catch {
    json = undefined;
  }
  const error = (json as { error?: { status?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  const status = typeof error?.status === 'string' ? error.status : rpcStatusOfHttp(response.status);
  const message = typeof error?.message === 'string' ? error.message : undefined;
  const reason = Array.isArray(error?.details)
    ? (error.details as Array<{ reason?: unknown }>).map((d) => d?.reason).find((r) => typeof r === 'string')
    : undefined;
  const code = rpcErrorCode(status, reason as string | undefined);
  return googleMapsError(
    code,
    `${what}: Google answered ${response.status} ${status}${message ? `: ${message}` : ''}`,
    {
      api,
      status,
      httpStatus: response.status,
      googleMessage: message,
    },
  );
}
