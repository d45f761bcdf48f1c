/** The `status` field of a legacy web-service body (sent with HTTP 200). */
export type GeocodingStatus =
  | 'OK'
  | 'ZERO_RESULTS'
  | 'OVER_DAILY_LIMIT'
  | 'OVER_QUERY_LIMIT'
  | 'REQUEST_DENIED'
  | 'INVALID_REQUEST'
  | 'UNKNOWN_ERROR'
  | 'MAX_ELEMENTS_EXCEEDED'
  | 'MAX_DIMENSIONS_EXCEEDED';

/** What a client should do with a response carrying that status. */
export type StatusAction = 'ok' | 'empty' | 'retry' | 'backoff' | 'fail';

/**
 * Classifies a body status. Unlike the official client, which maps
 * `OVER_DAILY_LIMIT` to 429 and retries it, this treats it as the
 * configuration error it is (bad key, billing off, cap reached).
 */
export function geocodingStatusAction(status: string): StatusAction {
  switch (status) {
    case 'OK':
      return 'ok';
    case 'ZERO_RESULTS':
      return 'empty';
    case 'UNKNOWN_ERROR':
      return 'retry';
    case 'OVER_QUERY_LIMIT':
      return 'backoff';
    default:
      return 'fail';
  }
}
