import { BallastError, errorGuard } from '@ballast/core/errors';

/**
 * Why the geocode cache refused (bad requests and options are a
 * `GoogleMapsUsageError`, `invalid_params` / `invalid_options`, as for the client):
 *
 * - `terms_exceeded`: a retention limit was set above Google's terms
 *   (coordinates kept more than 30 days); limits only go down.
 * - `store_failed`: the store could not be read or written where the call
 *   needed it (the purge job; a lookup never fails for this alone).
 *
 * When Google cannot answer and nothing servable is cached, the client's own
 * `unavailable` error is rethrown as it is (`isGoogleMapsError(e) && e.code === 'unavailable'`).
 */
export type GeocodeCacheErrorCode = 'terms_exceeded' | 'store_failed';

/** The error the geocode cache throws on purpose; branch on `code`. */
export class GeocodeCacheError extends BallastError<GeocodeCacheErrorCode> {
  override readonly name = 'GeocodeCacheError';
  /**
   * @param api the API that threw, e.g. `geocodeCache`, used in the message prefix
   */
  constructor(api: string, code: GeocodeCacheErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(`@ballast/google-maps] [${api}`, code, message, options);
  }
}

/** True for a {@link GeocodeCacheError} from any realm or copy of the package. */
export const isGeocodeCacheError: (value: unknown) => value is GeocodeCacheError =
  errorGuard<GeocodeCacheError>('GeocodeCacheError');
