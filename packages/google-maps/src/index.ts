/**
 * `@ballast/google-maps`: Google Maps Platform on `@ballast/core`: a
 * Geocoding and Routes client whose body statuses are classified once for
 * retry, breaker and cache, typed errors that say whether Google was
 * unavailable or answered for good, pacing to the project's quota (shared
 * through Redis), and single-flight for identical requests. The fake Google
 * for tests is `@ballast/google-maps/testing`.
 */

export { googleMapsClassifier } from './classify';
export type { GoogleMapsCallOptions, GoogleMapsClient, GoogleMapsClientOptions, GoogleMapsQuotas } from './client';
export { googleMapsClient } from './client';
export type {
  GoogleMapsApi,
  GoogleMapsErrorCode,
  GoogleMapsErrorContext,
  GoogleMapsUsageErrorCode,
} from './errors';
export {
  GoogleMapsError,
  GoogleMapsRateLimitError,
  GoogleMapsRequestError,
  GoogleMapsResponseError,
  GoogleMapsUnavailableError,
  GoogleMapsUsageError,
  isGoogleMapsError,
  isGoogleMapsUsageError,
} from './errors';
export type {
  GeocodeBatchOptions,
  GeocodeBatchOutcome,
  GeocodeBatchProgress,
  GeocodeBatchReport,
  GeocodeCache,
  GeocodeCacheEvent,
  GeocodeCacheOptions,
  GeocodeHit,
  GeocodeRetention,
  Geocoder,
  PurgeGeocodeCacheOptions,
} from './geocode-cache';
export { GEOCODE_COORDINATES_MAX_MS, geocodeCache, purgeGeocodeCache } from './geocode-cache';
export type { GeocodeCacheErrorCode } from './geocode-cache-errors';
export { GeocodeCacheError, isGeocodeCacheError } from './geocode-cache-errors';
export type {
  GeocodeEntry,
  GeocodePurgeLimits,
  GeocodePurgeResult,
  GeocodeStore,
  MemoryGeocodeStoreOptions,
} from './geocode-store';
export { memoryGeocodeStore } from './geocode-store';
export type { SqlGeocodeStoreOptions } from './geocode-store-sql';
export { sqlGeocodeStore } from './geocode-store-sql';
export type {
  AddressComponent,
  ForwardGeocodeRequest,
  GeocodeComponent,
  GeocodeRequest,
  GeocodeResponse,
  GeocodeResult,
  LatLng,
  LatLngBounds,
  LocationType,
  PlaceGeocodeRequest,
  ReverseGeocodeRequest,
} from './geocoding';
export type { GeocodeCacheRequest, NormalizedGeocodeRequest } from './normalize';
export { normalizeGeocodeRequest, REVERSE_DECIMALS } from './normalize';
export type {
  ComputeRouteMatrixRequest,
  ComputeRoutesRequest,
  ComputeRoutesResponse,
  Route,
  RouteMatrixElement,
  RoutesCallOptions,
  RoutesLatLng,
  RoutingPreference,
  TravelMode,
  Waypoint,
} from './routes';
export { durationSeconds } from './routes';
export type { GeocodingStatus, RpcStatus, StatusAction } from './status';
export { geocodingErrorCode, geocodingStatusAction, RPC_CODES, rpcErrorCode, rpcStatusAction } from './status';
