/** The `status` field of a legacy web-service body (sent with HTTP 200). */
export type GeocodingStatus =
  | 'OK'
  | 'ZERO_RESULTS'
  | 'OVER_DAILY_LIMIT'
  | 'OVER_QUERY_LIMIT'
  | 'REQUEST_DENIED'
  | 'INVALID_REQUEST'
  | 'UNKNOWN_ERROR'
  | 'NOT_FOUND'
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

/**
 * The typed-error code of a legacy web-service body status that is not a
 * success (`OK`, `ZERO_RESULTS`): what a call reports once retries, if any,
 * are spent. An unknown status is `invalid_response`.
 */
export function geocodingErrorCode(
  status: string,
):
  | 'unavailable'
  | 'rate_limited'
  | 'over_daily_limit'
  | 'denied'
  | 'invalid_request'
  | 'not_found'
  | 'invalid_response' {
  switch (status) {
    case 'UNKNOWN_ERROR':
      return 'unavailable';
    case 'OVER_QUERY_LIMIT':
      return 'rate_limited';
    case 'OVER_DAILY_LIMIT':
      return 'over_daily_limit';
    case 'REQUEST_DENIED':
      return 'denied';
    case 'INVALID_REQUEST':
    case 'MAX_ELEMENTS_EXCEEDED':
    case 'MAX_DIMENSIONS_EXCEEDED':
      return 'invalid_request';
    case 'NOT_FOUND':
      return 'not_found';
    default:
      return 'invalid_response';
  }
}

/** A `google.rpc.Status` code name, as the Routes API sends it in `error.status`. */
export type RpcStatus =
  | 'OK'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED';

/** The numeric `google.rpc.Code` of each status name (per-element statuses of a route matrix carry the number). */
export const RPC_CODES: Readonly<Record<RpcStatus, number>> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** The status name of a numeric `google.rpc.Code`, or undefined for a number outside the enum. */
export function rpcStatusName(code: number): RpcStatus | undefined {
  for (const [name, value] of Object.entries(RPC_CODES)) if (value === code) return name as RpcStatus;
  return undefined;
}

/** The status name that goes with an HTTP status when a Routes error body names none. */
export function rpcStatusOfHttp(httpStatus: number): RpcStatus {
  switch (httpStatus) {
    case 400:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'ABORTED';
    case 429:
      return 'RESOURCE_EXHAUSTED';
    case 501:
      return 'UNIMPLEMENTED';
    case 503:
      return 'UNAVAILABLE';
    case 504:
      return 'DEADLINE_EXCEEDED';
    default:
      return httpStatus >= 500 ? 'INTERNAL' : 'UNKNOWN';
  }
}

/**
 * Whether the Routes API's `google.rpc.Status` is retried: only
 * `RESOURCE_EXHAUSTED` (after a backoff) and `UNAVAILABLE`, the two codes
 * Google's error guide calls transient.
 */
export function rpcStatusAction(status: string): 'retry' | 'backoff' | 'fail' {
  if (status === 'UNAVAILABLE') return 'retry';
  if (status === 'RESOURCE_EXHAUSTED') return 'backoff';
  return 'fail';
}

/**
 * The typed-error code of a Routes `google.rpc.Status`. A key Google calls
 * invalid (`INVALID_ARGUMENT` with reason `API_KEY_INVALID`) is `denied`.
 */
export function rpcErrorCode(
  status: string,
  reason?: string,
): 'unavailable' | 'rate_limited' | 'denied' | 'invalid_request' | 'not_found' | 'invalid_response' {
  if (reason === 'API_KEY_INVALID' || reason === 'API_KEY_SERVICE_BLOCKED') return 'denied';
  switch (status) {
    case 'UNAVAILABLE':
    case 'INTERNAL':
    case 'UNKNOWN':
    case 'DATA_LOSS':
    case 'DEADLINE_EXCEEDED':
    case 'CANCELLED':
      return 'unavailable';
    case 'RESOURCE_EXHAUSTED':
      return 'rate_limited';
    case 'PERMISSION_DENIED':
    case 'UNAUTHENTICATED':
      return 'denied';
    case 'INVALID_ARGUMENT':
    case 'FAILED_PRECONDITION':
    case 'OUT_OF_RANGE':
    case 'ALREADY_EXISTS':
    case 'ABORTED':
    case 'UNIMPLEMENTED':
      return 'invalid_request';
    case 'NOT_FOUND':
      return 'not_found';
    default:
      return 'invalid_response';
  }
}
