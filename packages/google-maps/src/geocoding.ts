import { z } from 'zod';
import { GoogleMapsUsageError } from './errors';

/** A point, in degrees. */
export interface LatLng {
  lat: number;
  lng: number;
}

/** A rectangle given by its south-west and north-east corners. */
export interface LatLngBounds {
  southwest: LatLng;
  northeast: LatLng;
}

/** How precise a geocoded location is, best first. */
export type LocationType = 'ROOFTOP' | 'RANGE_INTERPOLATED' | 'GEOMETRIC_CENTER' | 'APPROXIMATE';

/** The component filters of forward geocoding (`components=country:US|postal_code:94043`). */
export type GeocodeComponent = 'route' | 'locality' | 'administrative_area' | 'postal_code' | 'country';

/** Forward geocoding: an address (and/or component filters) to places. */
export interface ForwardGeocodeRequest {
  /** The address to look up; required unless `components` is given. */
  address?: string;
  /**
   * Restricts the results: `{ country: 'FR', postal_code: '75007' }` (a list
   * of values repeats the filter), or Google's own `country:FR|postal_code:75007`.
   */
  components?: Partial<Record<GeocodeComponent, string | readonly string[]>> | string;
  /** Biases results towards a region (a ccTLD code such as `uk`). */
  region?: string;
  /** The language of the results (`en`, `de`, `pt-BR`). */
  language?: string;
  /** Biases results towards a viewport. */
  bounds?: LatLngBounds;
}

/** Reverse geocoding: a point to addresses. */
export interface ReverseGeocodeRequest {
  /** The point to look up. */
  latlng: LatLng;
  /** Keeps only results of these types (`street_address`, `locality`, ...). */
  resultType?: string | readonly string[];
  /** Keeps only results of these precisions. */
  locationType?: LocationType | readonly LocationType[];
  /** The language of the results. */
  language?: string;
  /** A ccTLD code Google may use to bias the answer. */
  region?: string;
}

/** Place geocoding: a place id to its address and location. */
export interface PlaceGeocodeRequest {
  /** A place id from an earlier answer (`ChIJ…`). */
  placeId: string;
  /** The language of the results. */
  language?: string;
  /** A ccTLD code Google may use to bias the answer. */
  region?: string;
}

/** Any geocoding request: forward (`address`/`components`), reverse (`latlng`) or by place id (`placeId`). */
export type GeocodeRequest = ForwardGeocodeRequest | ReverseGeocodeRequest | PlaceGeocodeRequest;

/** One part of a result's address. */
export interface AddressComponent {
  longName: string;
  shortName: string;
  types: string[];
}

/** One geocoding result. */
export interface GeocodeResult {
  /** The place id: the one value Google lets you keep indefinitely. */
  placeId: string;
  formattedAddress: string;
  location: LatLng;
  locationType: LocationType;
  viewport: LatLngBounds;
  bounds?: LatLngBounds;
  types: string[];
  /** True when Google matched only part of the address. */
  partialMatch: boolean;
  addressComponents: AddressComponent[];
  /** The plus code of the place, when Google sent one. */
  plusCode?: { globalCode: string; compoundCode?: string };
}

/** A successful geocoding answer: `ZERO_RESULTS` is a success with no results. */
export interface GeocodeResponse {
  status: 'OK' | 'ZERO_RESULTS';
  results: GeocodeResult[];
}

const latLngSchema = z.object({ lat: z.number(), lng: z.number() });
const boundsSchema = z.object({ southwest: latLngSchema, northeast: latLngSchema });
const rawResultSchema = z.object({
  place_id: z.string().min(1),
  formatted_address: z.string().default(''),
  address_components: z
    .array(z.object({ long_name: z.string(), short_name: z.string(), types: z.array(z.string()) }))
    .default([]),
  types: z.array(z.string()).default([]),
  partial_match: z.boolean().optional(),
  geometry: z.object({
    location: latLngSchema,
    location_type: z.enum(['ROOFTOP', 'RANGE_INTERPOLATED', 'GEOMETRIC_CENTER', 'APPROXIMATE']),
    viewport: boundsSchema,
    bounds: boundsSchema.optional(),
  }),
  plus_code: z.object({ global_code: z.string(), compound_code: z.string().optional() }).optional(),
});

/** The legacy web-service body of a geocoding answer, as Google sends it. */
export const geocodeBodySchema = z.object({
  status: z.string(),
  results: z.array(z.unknown()).default([]),
  error_message: z.string().optional(),
});

/** Parses one result of Google's JSON into a {@link GeocodeResult}; throws a ZodError when it is not one. @internal */
export function parseGeocodeResult(raw: unknown): GeocodeResult {
  const r = rawResultSchema.parse(raw);
  const out: GeocodeResult = {
    placeId: r.place_id,
    formattedAddress: r.formatted_address,
    location: r.geometry.location,
    locationType: r.geometry.location_type,
    viewport: r.geometry.viewport,
    types: r.types,
    partialMatch: r.partial_match === true,
    addressComponents: r.address_components.map((c) => ({
      longName: c.long_name,
      shortName: c.short_name,
      types: c.types,
    })),
  };
  if (r.geometry.bounds) out.bounds = r.geometry.bounds;
  if (r.plus_code)
    out.plusCode =
      r.plus_code.compound_code === undefined
        ? { globalCode: r.plus_code.global_code }
        : { globalCode: r.plus_code.global_code, compoundCode: r.plus_code.compound_code };
  return out;
}

const COMPONENTS: ReadonlySet<string> = new Set(['route', 'locality', 'administrative_area', 'postal_code', 'country']);
const LOCATION_TYPES: ReadonlySet<string> = new Set([
  'ROOFTOP',
  'RANGE_INTERPOLATED',
  'GEOMETRIC_CENTER',
  'APPROXIMATE',
]);
const LANGUAGE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const REGION = /^[A-Za-z]{2,3}$/;
const RESULT_TYPE = /^[a-z0-9_]+$/;
const PLACE_ID = /^[A-Za-z0-9_-]{1,1024}$/;
/** The longest address sent, in characters (after {@link normalizeText}). @internal */
export const MAX_ADDRESS = 2048;

/** A geocoding request checked and encoded: the query without the key, and the single-flight key. @internal */
export interface EncodedGeocode {
  kind: 'forward' | 'reverse' | 'place';
  /** `address=…&language=…`, parameters sorted, without `key`. */
  query: string;
  /** The request normalized for single-flight: case and whitespace folded. */
  flightKey: string;
}

function bad(api: string, message: string): GoogleMapsUsageError {
  return new GoogleMapsUsageError(api, 'invalid_params', message);
}

/** Trims, folds runs of whitespace to one space, and applies Unicode NFC (what is sent; case is kept). @internal */
export function normalizeText(text: string): string {
  return text.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

function checkLatLng(api: string, value: unknown, field: string): LatLng {
  const p = value as Partial<LatLng> | null;
  if (typeof p !== 'object' || p === null) throw bad(api, `${field} must be { lat, lng }`);
  const { lat, lng } = p;
  if (typeof lat !== 'number' || !Number.isFinite(lat) || lat < -90 || lat > 90)
    throw bad(api, `${field}.lat must be a number from -90 to 90`);
  if (typeof lng !== 'number' || !Number.isFinite(lng) || lng < -180 || lng > 180)
    throw bad(api, `${field}.lng must be a number from -180 to 180`);
  return { lat, lng };
}

function checkLanguage(api: string, language: unknown): string | undefined {
  if (language === undefined) return undefined;
  if (typeof language !== 'string' || !LANGUAGE.test(language))
    throw bad(api, 'language must be a language code such as en or pt-BR');
  return language;
}

function list<T extends string>(value: T | readonly T[]): readonly T[] {
  return typeof value === 'string' ? [value] : value;
}

const coord = (n: number) => String(Number(n.toFixed(7)));

/**
 * Checks a geocoding request and encodes it; throws `GoogleMapsUsageError`
 * `invalid_params` for anything Google would refuse with `INVALID_REQUEST`
 * (or that would change the request's meaning, such as a `|` in a component).
 * @internal
 */
export function encodeGeocode(api: string, request: GeocodeRequest): EncodedGeocode {
  if (typeof request !== 'object' || request === null) throw bad(api, 'the request must be an object');
  const r = request as Partial<ForwardGeocodeRequest & ReverseGeocodeRequest & PlaceGeocodeRequest>;
  const kinds = [
    r.address !== undefined || r.components !== undefined,
    r.latlng !== undefined,
    r.placeId !== undefined,
  ];
  const count = kinds.filter(Boolean).length;
  if (count === 0) throw bad(api, 'the request needs an address (or components), a latlng or a placeId');
  if (count > 1) throw bad(api, 'the request must have only one of address/components, latlng and placeId');
  const params: Array<[string, string]> = [];
  const folded: Array<[string, string]> = [];
  const add = (name: string, value: string, fold = value) => {
    params.push([name, value]);
    folded.push([name, fold]);
  };
  const language = checkLanguage(api, r.language);
  if (language !== undefined) add('language', language);
  if (r.region !== undefined) {
    if (typeof r.region !== 'string' || !REGION.test(r.region))
      throw bad(api, 'region must be a ccTLD code such as uk');
    add('region', r.region.toLowerCase());
  }
  let kind: EncodedGeocode['kind'];
  if (kinds[0]) {
    kind = 'forward';
    const extra = r as Record<string, unknown>;
    if (extra.resultType !== undefined || extra.locationType !== undefined)
      throw bad(api, 'resultType and locationType apply to reverse geocoding (latlng) only');
    if (r.address !== undefined) {
      if (typeof r.address !== 'string') throw bad(api, 'address must be a string');
      const address = normalizeText(r.address);
      if (address === '') throw bad(api, 'address must not be empty');
      if (address.length > MAX_ADDRESS) throw bad(api, `address must be at most ${MAX_ADDRESS} characters`);
      add('address', address, address.toLowerCase());
    }
    if (r.components !== undefined) {
      const pairs: Array<[string, unknown]> = [];
      if (typeof r.components === 'string') {
        for (const part of r.components.split('|')) {
          if (part.trim() === '') continue;
          const at = part.indexOf(':');
          if (at <= 0) throw bad(api, `components ${JSON.stringify(part)} must look like type:value`);
          pairs.push([part.slice(0, at).trim(), part.slice(at + 1)]);
        }
      } else if (typeof r.components === 'object' && r.components !== null && !Array.isArray(r.components)) {
        for (const [name, value] of Object.entries(r.components)) {
          if (value === undefined) continue;
          if (Array.isArray(value)) for (const v of value) pairs.push([name, v]);
          else pairs.push([name, value]);
        }
      } else throw bad(api, 'components must be an object such as { country: "FR" } or a string such as country:FR');
      const parts: string[] = [];
      for (const [name, value] of pairs) {
        if (!COMPONENTS.has(name))
          throw bad(
            api,
            `components.${name} is not a geocoding filter (route, locality, administrative_area, postal_code, country)`,
          );
        if (typeof value !== 'string' || normalizeText(value) === '' || /[|:]/.test(value))
          throw bad(api, `components.${name} must be a non-empty string without | or :`);
        parts.push(`${name}:${normalizeText(value)}`);
      }
      parts.sort();
      if (parts.length === 0 && r.address === undefined) throw bad(api, 'components must name at least one filter');
      if (parts.length > 0) add('components', parts.join('|'), parts.join('|').toLowerCase());
    }
    if (r.bounds !== undefined) {
      const b = r.bounds as Partial<LatLngBounds> | null;
      if (typeof b !== 'object' || b === null) throw bad(api, 'bounds must be { southwest, northeast }');
      const sw = checkLatLng(api, b.southwest, 'bounds.southwest');
      const ne = checkLatLng(api, b.northeast, 'bounds.northeast');
      if (sw.lat > ne.lat) throw bad(api, 'bounds.southwest must be south of bounds.northeast');
      add('bounds', `${coord(sw.lat)},${coord(sw.lng)}|${coord(ne.lat)},${coord(ne.lng)}`);
    }
  } else if (kinds[1]) {
    kind = 'reverse';
    const p = checkLatLng(api, r.latlng, 'latlng');
    add('latlng', `${coord(p.lat)},${coord(p.lng)}`);
    if (r.resultType !== undefined) {
      const types = list(r.resultType);
      if (!Array.isArray(types) && typeof r.resultType !== 'string')
        throw bad(api, 'resultType must be a string or strings');
      if (types.length === 0 || !types.every((t) => typeof t === 'string' && RESULT_TYPE.test(t)))
        throw bad(api, 'resultType must be one or more place types such as street_address');
      add('result_type', [...types].sort().join('|'));
    }
    if (r.locationType !== undefined) {
      const types = list(r.locationType);
      if (types.length === 0 || !types.every((t) => typeof t === 'string' && LOCATION_TYPES.has(t)))
        throw bad(api, 'locationType must be ROOFTOP, RANGE_INTERPOLATED, GEOMETRIC_CENTER or APPROXIMATE');
      add('location_type', [...types].sort().join('|'));
    }
    const extra = r as Record<string, unknown>;
    if (extra.bounds !== undefined) throw bad(api, 'bounds apply to forward geocoding (address) only');
  } else {
    kind = 'place';
    if (typeof r.placeId !== 'string' || !PLACE_ID.test(r.placeId))
      throw bad(api, 'placeId must be a place id such as ChIJ2eUgeAK6j4ARbn5u_wAGqWA');
    add('place_id', r.placeId);
    const extra = r as Record<string, unknown>;
    if (extra.bounds !== undefined || extra.resultType !== undefined || extra.locationType !== undefined)
      throw bad(api, 'a place id request takes only placeId, language and region');
  }
  const sortPairs = (pairs: Array<[string, string]>) => [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = new URLSearchParams(sortPairs(params)).toString();
  const flightKey = `${kind}?${new URLSearchParams(sortPairs(folded)).toString()}`;
  return { kind, query, flightKey };
}
