/**
 * `@ballast/google-maps`: Google Maps Platform presets built on `@ballast/core`.
 * Geocoding and Routes clients land with their issue; this entry already
 * carries the retry rule for the legacy web services' body `status`.
 */

export type { GeocodingStatus, StatusAction } from './status';
export { geocodingStatusAction } from './status';
