/**
 * `@ballast/google-maps`: Google Maps Platform presets built on `@ballast/core`.
 * Geocoding and Routes clients land with their issue; this entry already
 * carries the retry rule for the legacy web services' body `status`.
 */

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
  ComponentFilters,
  GeocodeAddressRequest,
  GeocodeCacheRequest,
  GeocodeLatLngRequest,
  GeocodePlaceRequest,
  LatLng,
  LatLngBounds,
  NormalizedGeocodeRequest,
} from './normalize';
export { normalizeGeocodeRequest, normalizeText, REVERSE_DECIMALS } from './normalize';
export type { GeocodingStatus, StatusAction } from './status';
export { geocodingStatusAction } from './status';
