/**
 * `@ballast/google-maps/testing`: a fake Google Maps Platform for tests.
 * Geocoding (forward, reverse, place id) and Routes (`computeRoutes`,
 * `computeRouteMatrix`) answer from a small gazetteer (any other address is
 * hashed to stable coordinates and a stable place id), with Google's
 * statuses and error bodies, quotas, counters and switchable outages,
 * through `fetch`, a local server or msw.
 *
 * The msw handlers live in `@ballast/google-maps/testing/msw`, so that this
 * entry's types do not name msw (an optional peer).
 */

export type {
  FakeApi,
  FakeGoogleMaps,
  FakeGoogleMapsOptions,
  FakeGoogleMapsRequest,
  FakeGoogleMapsServer,
  FakeOutage,
  FakeOutageOptions,
  FakeQuotas,
} from './fake-google-maps';
export { applyMask, createFakeGoogleMaps } from './fake-google-maps';
export type { FakePlace } from './gazetteer';
export { encodePolyline, foldAddress, GAZETTEER, hashedPlace, haversineMeters } from './gazetteer';
