import { BallastError } from '@ballast/core/errors';
import type { Geocoder } from './geocode-cache';
import type { GeocodeRequest, LatLng } from './geocoding';
import { foldText } from './normalize';

/** A stand-in for the client's typed error (same `code` values). */
export class StubMapsError extends BallastError<string> {
  override readonly name = 'StubMapsError';
}

type Mode = 'up' | 'down' | 'denied' | 'over_daily_limit' | 'rate_limited';

/**
 * A geocoder for unit tests: a gazetteer of address → place, place ids that
 * resolve, call records, and modes that fail like the client does.
 */
export function stubGeocoder(places: Record<string, { placeId: string; location: LatLng }> = {}) {
  const byAddress = new Map(Object.entries(places).map(([a, p]) => [foldText(a), p]));
  const byPlace = new Map(Object.values(places).map((p) => [p.placeId, p]));
  const calls: GeocodeRequest[] = [];
  let mode: Mode = 'up';
  let delayMs = 0;
  const geocoder: Geocoder & {
    calls: typeof calls;
    mode(m: Mode): void;
    delay(ms: number): void;
    move(placeId: string, location: LatLng): void;
    forget(placeId: string): void;
  } = {
    quota: { limit: 3000, intervalMs: 60_000 },
    calls,
    mode: (m) => {
      mode = m;
    },
    delay: (ms) => {
      delayMs = ms;
    },
    move: (placeId, location) => {
      const p = byPlace.get(placeId);
      if (p) p.location = location;
    },
    forget: (placeId) => {
      byPlace.delete(placeId);
    },
    async geocode(request) {
      calls.push(request);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      if (mode === 'down') throw new StubMapsError('stub', 'unavailable', 'Google answered 503');
      if (mode === 'rate_limited') throw new StubMapsError('stub', 'rate_limited', 'OVER_QUERY_LIMIT');
      if (mode === 'denied') throw new StubMapsError('stub', 'denied', 'REQUEST_DENIED');
      if (mode === 'over_daily_limit') throw new StubMapsError('stub', 'over_daily_limit', 'OVER_DAILY_LIMIT');
      let hit: { placeId: string; location: LatLng } | undefined;
      if ('placeId' in request) {
        hit = byPlace.get(request.placeId);
        if (!hit) throw new StubMapsError('stub', 'not_found', 'NOT_FOUND');
      } else if ('address' in request && request.address !== undefined) {
        const known = byAddress.get(foldText(request.address));
        hit = known && { ...known, location: { ...(byPlace.get(known.placeId)?.location ?? known.location) } };
      }
      return { status: hit ? 'OK' : 'ZERO_RESULTS', results: hit ? [{ ...hit, location: { ...hit.location } }] : [] };
    },
  };
  return geocoder;
}
