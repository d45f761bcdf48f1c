import type { RequestHandler } from 'msw';
import type { FakeGoogleMaps } from './fake-google-maps';

/** Options for {@link googleMapsMswHandlers}. */
export interface GoogleMapsMswOptions {
  /**
   * The Geocoding origin to intercept.
   * @default 'https://maps.googleapis.com'
   */
  geocodingUrl?: string;
  /**
   * The Routes origin to intercept.
   * @default 'https://routes.googleapis.com'
   */
  routesUrl?: string;
}

/**
 * msw request handlers that answer Google Maps calls from a fake, for code
 * (or an official client) that calls Google's hosts directly. A `refuse`
 * outage answers msw's network error; `hang` never answers. msw is loaded
 * when this is called; this entry (`@ballast/google-maps/testing/msw`) is
 * the only one whose types name msw, an optional peer.
 *
 * @example
 * ```ts
 * const fake = createFakeGoogleMaps();
 * const server = setupServer(...(await googleMapsMswHandlers(fake)));
 * server.listen({ onUnhandledFrame: 'error' });
 * ```
 */
export async function googleMapsMswHandlers(
  fake: FakeGoogleMaps,
  options: GoogleMapsMswOptions = {},
): Promise<RequestHandler[]> {
  const { http } = await import('msw');
  const geocoding = (options.geocodingUrl ?? 'https://maps.googleapis.com').replace(/\/+$/, '');
  const routes = (options.routesUrl ?? 'https://routes.googleapis.com').replace(/\/+$/, '');
  const answer = ({ request }: { request: Request }) => fake.handle(request);
  return [
    http.get(`${geocoding}/maps/api/geocode/json`, answer),
    http.post(`${routes}/directions/v2\\:computeRoutes`, answer),
    http.post(`${routes}/distanceMatrix/v2\\:computeRouteMatrix`, answer),
  ];
}
