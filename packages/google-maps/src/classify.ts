import type { Classifier } from '@ballast/core/resilience';
import { geocodingStatusAction, rpcStatusAction } from './status';

/**
 * The one classification of every Google Maps answer, shared by core's
 * retry, breaker and cache layers (decision 0900):
 *
 * - Geocoding (HTTP 200 with a body `status`): `OK` and `ZERO_RESULTS` are
 *   successes; `OVER_QUERY_LIMIT` is `throttled` (retried after a backoff,
 *   not a breaker failure); `UNKNOWN_ERROR` is `retryable`; any other status
 *   (`OVER_DAILY_LIMIT`, `REQUEST_DENIED`, `INVALID_REQUEST`, one this client
 *   does not know) or a body that is not JSON is a `failure`: never retried,
 *   never stored by a cache, never counted as a success.
 * - Routes (`google.rpc.Status` error bodies): `RESOURCE_EXHAUSTED` is
 *   `throttled`, `UNAVAILABLE` `retryable`; another 5xx a `failure`; a 2xx a
 *   success; another 4xx keeps core's rule (the request was at fault).
 */
export const googleMapsClassifier: Classifier = async (response, ctx) => {
  const geocoding = !ctx.url.includes('/directions/') && !ctx.url.includes('/distanceMatrix/');
  if (geocoding) {
    if (response.status !== 200) return undefined;
    const body = (await ctx.json()) as { status?: unknown } | undefined;
    const status = typeof body === 'object' && body !== null ? body.status : undefined;
    if (typeof status !== 'string') return 'failure';
    switch (geocodingStatusAction(status)) {
      case 'ok':
      case 'empty':
        return 'success';
      case 'backoff':
        return 'throttled';
      case 'retry':
        return 'retryable';
      default:
        return 'failure';
    }
  }
  if (response.status < 400) return 'success';
  const body = (await ctx.json()) as { error?: { status?: unknown } } | undefined;
  const status = body?.error?.status;
  if (typeof status === 'string') {
    const action = rpcStatusAction(status);
    if (action === 'backoff') return 'throttled';
    if (action === 'retry') return 'retryable';
    return response.status >= 500 ? 'failure' : 'success';
  }
  if (response.status === 429) return 'throttled';
  if (response.status === 503) return 'retryable';
  return response.status >= 500 ? 'failure' : 'success';
};
