import { describe, expect, it } from 'vitest';
import { googleMapsClient } from './client';
import { isGoogleMapsError, isGoogleMapsUsageError } from './errors';
import { durationSeconds } from './routes';
import { createFakeGoogleMaps } from './testing';

const KEY = 'AIzaRoutesKey';
const PARIS = { location: { latLng: { latitude: 48.8583701, longitude: 2.2944813 } } };
const BERLIN = { address: 'Brandenburger Tor' };
const SYDNEY = { placeId: 'ChIJ3S-JXmauEmsRUcIaWtf4MzE' };

function setup(extra: Partial<Parameters<typeof googleMapsClient>[0]> = {}) {
  const fake = createFakeGoogleMaps({ keys: [KEY] });
  const maps = googleMapsClient({ key: KEY, fetch: fake.fetch, retryBudget: false, baseDelayMs: 0, ...extra });
  return { fake, maps };
}

describe('computeRoutes', () => {
  it('sends the key and the minimal field mask as headers, and gets only those fields', async () => {
    const seen: Headers[] = [];
    const fake = createFakeGoogleMaps({ keys: [KEY] });
    const maps = googleMapsClient({
      key: KEY,
      fetch: (input, init) => {
        seen.push(new Request(input, init).headers);
        return fake.fetch(input, init);
      },
    });
    const { routes } = await maps.computeRoutes({ origin: PARIS, destination: BERLIN });
    expect(seen[0]?.get('x-goog-api-key')).toBe(KEY);
    expect(seen[0]?.get('x-goog-fieldmask')).toBe(
      'routes.duration,routes.distanceMeters,routes.polyline.encodedPolyline',
    );
    expect(routes).toHaveLength(1);
    expect(Object.keys(routes[0] ?? {}).sort()).toEqual(['distanceMeters', 'duration', 'polyline']);
    expect(routes[0]?.distanceMeters).toBeGreaterThan(870_000);
    expect(durationSeconds(routes[0]?.duration)).toBeGreaterThan(3600);
    expect(fake.requests[0]?.path).not.toContain(KEY);
  });

  it('asks for the fields a given mask names', async () => {
    const { maps } = setup();
    const { routes } = await maps.computeRoutes(
      {
        origin: PARIS,
        destination: BERLIN,
        intermediates: [{ address: 'Eiffel Tower' }],
        computeAlternativeRoutes: true,
      },
      { fieldMask: ['routes.legs.distanceMeters', 'routes.distanceMeters'] },
    );
    expect(routes).toHaveLength(2);
    expect(routes[0]?.legs).toHaveLength(2);
    expect(routes[0]?.duration).toBeUndefined();
  });

  it('no route found is an empty list', async () => {
    const { maps } = setup();
    await expect(maps.computeRoutes({ origin: PARIS, destination: SYDNEY })).resolves.toEqual({ routes: [] });
    await expect(maps.computeRoutes({ origin: PARIS, destination: { address: 'nowhere' } })).resolves.toEqual({
      routes: [],
    });
  });

  it('retries RESOURCE_EXHAUSTED and UNAVAILABLE with backoff (POST included), then answers', async () => {
    const { maps, fake } = setup();
    fake.outage('over_query_limit', { times: 1, api: 'routes' });
    fake.outage('http_503', { times: 1, api: 'routes' });
    await expect(maps.computeRoutes({ origin: PARIS, destination: BERLIN })).resolves.toMatchObject({
      routes: [expect.any(Object)],
    });
    expect(fake.requests.map((r) => r.status)).toEqual(['UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'OK']);
  });

  it('maps google.rpc.Status errors to typed errors, not retried', async () => {
    const { maps, fake } = setup();
    fake.outage('request_denied', { api: 'routes', times: 1 });
    await expect(maps.computeRoutes({ origin: PARIS, destination: BERLIN })).rejects.toMatchObject({
      code: 'denied',
      status: 'PERMISSION_DENIED',
      httpStatus: 403,
      transient: false,
    });
    fake.outage('unknown_error', { api: 'routes', times: 1 });
    await expect(maps.computeRoutes({ origin: PARIS, destination: BERLIN })).rejects.toMatchObject({
      code: 'unavailable',
      status: 'INTERNAL',
      transient: true,
    });
    const past = await maps
      .computeRoutes({ origin: PARIS, destination: BERLIN, departureTime: new Date(Date.now() - 3_600_000) })
      .catch((e: unknown) => e);
    expect(past).toMatchObject({ code: 'invalid_request', status: 'INVALID_ARGUMENT', httpStatus: 400 });
    expect((past as Error).message).toContain('future');
    expect(fake.requests).toHaveLength(3);
  });

  it('a bad key is denied (INVALID_ARGUMENT with reason API_KEY_INVALID)', async () => {
    const fake = createFakeGoogleMaps({ keys: [KEY] });
    const maps = googleMapsClient({ key: 'AIzaNope', fetch: fake.fetch });
    const error = await maps.computeRoutes({ origin: PARIS, destination: BERLIN }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'denied', status: 'INVALID_ARGUMENT' });
    expect(String((error as Error).message)).not.toContain('AIzaNope');
  });

  it('RESOURCE_EXHAUSTED after every attempt is rate_limited', async () => {
    const { maps, fake } = setup({ attempts: 3 });
    fake.outage('over_query_limit', { api: 'routes' });
    await expect(maps.computeRoutes({ origin: PARIS, destination: BERLIN })).rejects.toMatchObject({
      code: 'rate_limited',
      status: 'RESOURCE_EXHAUSTED',
      httpStatus: 429,
    });
    expect(fake.requests).toHaveLength(3);
  });

  it('refuses requests and masks that cannot work, before any call', async () => {
    const { maps, fake } = setup();
    const bad: Array<[unknown, unknown]> = [
      [{ origin: PARIS }, {}],
      [{ origin: PARIS, destination: {} }, {}],
      [{ origin: PARIS, destination: { address: 'x', placeId: 'y' } }, {}],
      [{ origin: { location: { latLng: { latitude: 100, longitude: 0 } } }, destination: BERLIN }, {}],
      [{ origin: PARIS, destination: BERLIN, intermediates: Array(26).fill(BERLIN) }, {}],
      [{ origin: PARIS, destination: BERLIN, travelMode: 'WALK', routingPreference: 'TRAFFIC_AWARE' }, {}],
      [{ origin: PARIS, destination: BERLIN, travelMode: 'TELEPORT' }, {}],
      [{ origin: PARIS, destination: BERLIN, departureTime: 'tomorrow' }, {}],
      [{ origin: PARIS, destination: BERLIN }, { fieldMask: '*' }],
      [{ origin: PARIS, destination: BERLIN }, { fieldMask: '' }],
      [{ origin: PARIS, destination: BERLIN }, { fieldMask: 'routes..duration' }],
      [null, {}],
    ];
    for (const [request, options] of bad) {
      const error = await maps.computeRoutes(request as never, options as never).catch((e: unknown) => e);
      expect(isGoogleMapsUsageError(error), JSON.stringify([request, options])).toBe(true);
    }
    expect(fake.requests).toHaveLength(0);
  });
});

describe('computeRouteMatrix', () => {
  it('parses the element stream per element, each with its status, ordered by origin and destination', async () => {
    const { maps } = setup();
    const elements = await maps.computeRouteMatrix({
      origins: [PARIS, { address: 'nowhere land' }],
      destinations: [BERLIN, SYDNEY, { address: 'Eiffel Tower' }],
    });
    expect(elements.map((e) => [e.originIndex, e.destinationIndex])).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [1, 0],
      [1, 1],
      [1, 2],
    ]);
    expect(elements[0]).toMatchObject({ ok: true, condition: 'ROUTE_EXISTS', status: { code: 0, name: 'OK' } });
    expect(elements[0]?.distanceMeters).toBeGreaterThan(870_000);
    expect(elements[1]).toMatchObject({ ok: false, condition: 'ROUTE_NOT_FOUND', status: { code: 0 } });
    expect(elements[3]).toMatchObject({ ok: false, status: { code: 5, name: 'NOT_FOUND' } });
  });

  it('always asks for the indexes and statuses it needs to place elements', async () => {
    const seen: string[] = [];
    const fake = createFakeGoogleMaps();
    const maps = googleMapsClient({
      key: KEY,
      fetch: (input, init) => {
        seen.push(new Request(input, init).headers.get('x-goog-fieldmask') ?? '');
        return fake.fetch(input, init);
      },
    });
    const [only] = await maps.computeRouteMatrix(
      { origins: [PARIS], destinations: [BERLIN] },
      { fieldMask: 'duration' },
    );
    expect(seen[0]).toBe('duration,originIndex,destinationIndex,status,condition');
    expect(only).toMatchObject({ ok: true, originIndex: 0, destinationIndex: 0 });
    expect(only?.distanceMeters).toBeUndefined();
  });

  it('refuses a matrix over 625 elements (100 with TRAFFIC_AWARE_OPTIMAL) or over the quota', async () => {
    const { maps } = setup();
    const many = Array(26).fill(PARIS);
    await expect(maps.computeRouteMatrix({ origins: many, destinations: many })).rejects.toMatchObject({
      code: 'invalid_params',
    });
    const eleven = Array(11).fill(PARIS);
    await expect(
      maps.computeRouteMatrix({ origins: eleven, destinations: eleven, routingPreference: 'TRAFFIC_AWARE_OPTIMAL' }),
    ).rejects.toMatchObject({ code: 'invalid_params' });
    const small = setup({ quotaPerMinute: { routeMatrixElements: 10 } });
    await expect(
      small.maps.computeRouteMatrix({ origins: [PARIS, PARIS, PARIS, PARIS], destinations: [BERLIN, BERLIN, BERLIN] }),
    ).rejects.toMatchObject({ code: 'invalid_params' });
  });

  it('an empty 200 body is invalid_response (Google answers no route with {}), not an empty list of routes', async () => {
    for (const body of ['', '{}']) {
      const maps = googleMapsClient({ key: KEY, fetch: async () => new Response(body, { status: 200 }), attempts: 1 });
      const result = await maps.computeRoutes({ origin: PARIS, destination: SYDNEY }).catch((e: unknown) => e);
      if (body === '{}') expect(result).toEqual({ routes: [] });
      else expect(result).toMatchObject({ code: 'invalid_response', transient: true });
    }
  });

  it('an answer that is not a list of elements is invalid_response', async () => {
    const maps = googleMapsClient({
      key: KEY,
      fetch: async () => new Response('<html>proxy error</html>', { status: 200 }),
    });
    const error = await maps.computeRouteMatrix({ origins: [PARIS], destinations: [BERLIN] }).catch((e: unknown) => e);
    expect(isGoogleMapsError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'invalid_response', transient: true });
  });
});
