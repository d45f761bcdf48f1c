import { describe, expect, it } from 'vitest';
import { googleMapsClient } from '../client';
import { isGoogleMapsUsageError } from '../errors';
import { applyMask, createFakeGoogleMaps, encodePolyline, GAZETTEER, hashedPlace } from './index';

interface RawResult {
  place_id: string;
  partial_match?: boolean;
  formatted_address: string;
  geometry: { location: { lat: number; lng: number } };
}

const geocodeUrl = (query: string) => `https://maps.googleapis.com/maps/api/geocode/json?${query}`;

async function geocode(fake: ReturnType<typeof createFakeGoogleMaps>, query: string) {
  const response = await fake.handle(new Request(geocodeUrl(query)));
  return {
    http: response.status,
    body: (await response.json()) as { status: string; results: [RawResult, ...RawResult[]]; error_message?: string },
  };
}

function post(path: string, body: unknown, headers: Record<string, string>) {
  return new Request(`https://routes.googleapis.com${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('the fake Geocoding API', () => {
  it('answers the gazetteer with real coordinates, the same for every spelling', async () => {
    const fake = createFakeGoogleMaps();
    for (const place of GAZETTEER) {
      const { body } = await geocode(fake, `address=${encodeURIComponent(place.formattedAddress.toUpperCase())}&key=k`);
      expect(body.status).toBe('OK');
      expect(body.results[0].place_id).toBe(place.placeId);
      expect(body.results[0].geometry.location).toEqual({ lat: place.lat, lng: place.lng });
      expect(body.results[0].partial_match).toBeUndefined();
    }
  });

  it('hashes any other address to stable coordinates and a place id that resolves again (in another fake too)', async () => {
    const one = createFakeGoogleMaps();
    const two = createFakeGoogleMaps();
    const a = await geocode(one, 'address=42+Unknown+Road%2C+Springfield&key=k');
    const b = await geocode(two, 'address=42%20unknown%20road,%20%20SPRINGFIELD&key=k');
    const first = a.body.results[0] as RawResult;
    expect(first).toEqual(b.body.results[0]);
    expect(first.partial_match).toBe(true);
    const { lat, lng } = first.geometry.location;
    expect(Math.abs(lat)).toBeLessThanOrEqual(70);
    expect(Math.abs(lng)).toBeLessThanOrEqual(180);
    const byId = await geocode(two, `place_id=${first.place_id}&key=k`);
    expect(byId.body.results[0].geometry.location).toEqual({ lat, lng });
    expect(hashedPlace('x').placeId).toBe(hashedPlace('x').placeId);
  });

  it('answers Google statuses: ZERO_RESULTS, INVALID_REQUEST, NOT_FOUND, REQUEST_DENIED, all with HTTP 200', async () => {
    const fake = createFakeGoogleMaps({ keys: ['good'] });
    expect((await geocode(fake, 'address=nowhere+street&key=good')).body.status).toBe('ZERO_RESULTS');
    expect((await geocode(fake, 'key=good')).body.status).toBe('INVALID_REQUEST');
    expect((await geocode(fake, 'latlng=95,0&key=good')).body.status).toBe('INVALID_REQUEST');
    expect((await geocode(fake, 'place_id=ChIJdoesnotexist&key=good')).body.status).toBe('NOT_FOUND');
    const denied = await geocode(fake, 'address=x&key=bad');
    expect(denied).toMatchObject({
      http: 200,
      body: { status: 'REQUEST_DENIED', error_message: 'The provided API key is invalid.' },
    });
    expect((await geocode(fake, 'address=x')).body.status).toBe('REQUEST_DENIED');
    expect((await geocode(fake, 'address=eiffel+tower&components=country:DE&key=good')).body.status).toBe(
      'ZERO_RESULTS',
    );
  });

  it('reverse geocoding finds a gazetteer place nearby and honors result_type and location_type', async () => {
    const fake = createFakeGoogleMaps();
    const near = await geocode(fake, 'latlng=51.50336,-0.12762&key=k');
    expect(near.body.results[0].place_id).toBe('ChIJRxzRQcUEdkgRGVaKyzmkgvg');
    expect((await geocode(fake, 'latlng=51.50336,-0.12762&result_type=locality&key=k')).body.status).toBe(
      'ZERO_RESULTS',
    );
    expect((await geocode(fake, 'latlng=51.50336,-0.12762&location_type=ROOFTOP&key=k')).body.status).toBe('OK');
    const open = await geocode(fake, 'latlng=10.5,20.25&key=k');
    expect(open.body.results[0].geometry.location).toEqual({ lat: 10.5, lng: 20.25 });
    const again = await geocode(fake, `place_id=${open.body.results[0].place_id}&key=k`);
    expect(again.body.results[0].geometry.location).toEqual({ lat: 10.5, lng: 20.25 });
  });

  it('enforces the per-minute quota with OVER_QUERY_LIMIT on a sliding minute', async () => {
    let now = 0;
    const fake = createFakeGoogleMaps({ quotaPerMinute: 3, now: () => now });
    const statuses: string[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await geocode(fake, `address=a${i}&key=k`)).body.status);
    expect(statuses).toEqual(['OK', 'OK', 'OK', 'OVER_QUERY_LIMIT']);
    now = 59_999;
    expect((await geocode(fake, 'address=b&key=k')).body.status).toBe('OVER_QUERY_LIMIT');
    now = 60_000;
    expect((await geocode(fake, 'address=c&key=k')).body.status).toBe('OK');
    expect(fake.maxPerMinute('geocoding')).toBe(5);
  });

  it('counts calls per address and per API', async () => {
    const fake = createFakeGoogleMaps();
    await geocode(fake, 'address=Eiffel+Tower&key=k');
    await geocode(fake, 'address=eiffel++tower&key=k');
    await geocode(fake, 'address=Sydney+Opera+House&key=k');
    expect(fake.calls('EIFFEL TOWER')).toBe(2);
    expect(fake.calls('sydney opera house')).toBe(1);
    expect(fake.calls()).toBe(3);
    expect(fake.callsByApi()).toEqual({ geocoding: 3, routes: 0, routeMatrix: 0 });
    fake.reset();
    expect(fake.calls()).toBe(0);
  });

  it('switches outages at runtime, for a number of requests or until cleared', async () => {
    const fake = createFakeGoogleMaps();
    fake.outage('http_502', { times: 1 });
    expect((await geocode2(fake)).status).toBe(502);
    expect((await geocode2(fake)).status).toBe(200);
    fake.outage('unknown_error');
    expect((await geocode(fake, 'address=x&key=k')).body.status).toBe('UNKNOWN_ERROR');
    expect((await geocode(fake, 'address=x&key=k')).body.status).toBe('UNKNOWN_ERROR');
    fake.outage(null);
    expect((await geocode(fake, 'address=x&key=k')).body.status).toBe('OK');
    fake.outage('refuse', { times: 1 });
    expect((await fake.handle(new Request(geocodeUrl('address=x&key=k')))).type).toBe('error');
    await expect(fake.fetch(geocodeUrl('address=x&key=k'))).resolves.toMatchObject({ status: 200 });
    fake.outage('refuse', { times: 1 });
    await expect(fake.fetch(geocodeUrl('address=x&key=k'))).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
    fake.outage('hang', { times: 1 });
    const controller = new AbortController();
    const hanging = fake.fetch(geocodeUrl('address=x&key=k'), { signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(hanging).rejects.toThrow('gave up');
    expect(() => fake.outage('meteor' as never)).toThrow(/mode must be/);
    expect(() => fake.outage('hang', { times: 0 })).toThrow(/times/);
  });

  it('a server closed right after a refuse outage is cleared stays closed (the process can exit)', async () => {
    const fake = createFakeGoogleMaps();
    const server = await fake.listen();
    fake.outage('refuse');
    fake.outage(null); // reopens the port in the background
    await server.close();
    const error = await fetch(`${server.url}/maps/api/geocode/json?address=x&key=k`).catch((e: unknown) => e);
    expect(error).toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  });

  it('calls(address) counts every request for the address, those an outage answered included (the README example)', async () => {
    const fake = createFakeGoogleMaps({ keys: ['test-key'] });
    const maps = googleMapsClient({ key: 'test-key', fetch: fake.fetch, baseDelayMs: 1, maxDelayMs: 2 });
    fake.outage('over_query_limit', { times: 2 });
    await expect(maps.geocode({ address: 'Eiffel Tower' })).resolves.toMatchObject({ status: 'OK' });
    expect(fake.calls('eiffel tower')).toBe(3);
    expect(fake.requests.map((r) => [r.address, r.status])).toEqual([
      ['eiffel tower', 'OVER_QUERY_LIMIT'],
      ['eiffel tower', 'OVER_QUERY_LIMIT'],
      ['eiffel tower', 'OK'],
    ]);
    fake.outage('http_503', { times: 1 });
    fake.outage('refuse', { times: 1 });
    await expect(maps.geocode({ address: ' EIFFEL   tower ' })).resolves.toMatchObject({ status: 'OK' });
    expect(fake.calls('Eiffel Tower')).toBe(6);
  });

  it('an outage until cleared replaces the one before it, so modes switch (outages with times queue)', async () => {
    const fake = createFakeGoogleMaps();
    const server = await fake.listen();
    const status = async () => {
      const res = await fetch(`${server.url}/maps/api/geocode/json?address=x&key=k`).catch((e: unknown) => e);
      if (!(res instanceof Response)) return 'refused';
      const text = await res.text();
      return `${res.status} ${text.startsWith('{') ? (JSON.parse(text) as { status: string }).status : ''}`;
    };
    try {
      fake.outage('http_503');
      expect(await status()).toBe('503 ');
      fake.outage('over_query_limit');
      expect(await status()).toBe('200 OVER_QUERY_LIMIT');
      fake.outage('refuse');
      expect(await status()).toBe('refused');
      fake.outage('unknown_error'); // the port opens again
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await status()).toBe('200 UNKNOWN_ERROR');
      fake.outage(null);
      fake.outage('http_500', { times: 1 });
      fake.outage('http_502', { times: 1 });
      expect([await status(), await status(), await status()]).toEqual(['500 ', '502 ', '200 OK']);
    } finally {
      await server.close();
    }
  });

  it('refuses options that cannot work', () => {
    for (const options of [
      { quotaPerMinute: 0 },
      { quotaPerMinute: 'lots' },
      { keys: [''] },
      { latencyMs: -1 },
      { now: 5 },
    ]) {
      let error: unknown;
      try {
        createFakeGoogleMaps(options as never);
      } catch (e) {
        error = e;
      }
      expect(isGoogleMapsUsageError(error), JSON.stringify(options)).toBe(true);
    }
  });
});

function geocode2(fake: ReturnType<typeof createFakeGoogleMaps>) {
  return fake.handle(new Request(geocodeUrl('address=x&key=k')));
}

describe('the fake Routes API', () => {
  const origin = { location: { latLng: { latitude: 48.8583701, longitude: 2.2944813 } } };
  const destination = { address: 'Brandenburger Tor' };

  it('requires the key and the field mask, and answers only the masked fields', async () => {
    const fake = createFakeGoogleMaps({ keys: ['good'] });
    const noKey = await fake.handle(
      post('/directions/v2:computeRoutes', { origin, destination }, { 'x-goog-fieldmask': 'routes.duration' }),
    );
    expect(noKey.status).toBe(403);
    expect(await noKey.json()).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } });
    const badKey = await fake.handle(
      post(
        '/directions/v2:computeRoutes',
        { origin, destination },
        { 'x-goog-api-key': 'bad', 'x-goog-fieldmask': 'routes.duration' },
      ),
    );
    expect(await badKey.json()).toMatchObject({
      error: { status: 'INVALID_ARGUMENT', details: [{ reason: 'API_KEY_INVALID' }] },
    });
    const noMask = await fake.handle(
      post('/directions/v2:computeRoutes', { origin, destination }, { 'x-goog-api-key': 'good' }),
    );
    expect(noMask.status).toBe(400);
    expect(await noMask.json()).toMatchObject({
      error: { status: 'INVALID_ARGUMENT', message: expect.stringContaining('FieldMask') },
    });
    const ok = await fake.handle(
      post(
        '/directions/v2:computeRoutes',
        { origin, destination },
        { 'x-goog-api-key': 'good', 'x-goog-fieldmask': 'routes.duration' },
      ),
    );
    const body = (await ok.json()) as { routes: Array<Record<string, unknown>> };
    expect(Object.keys(body.routes[0] ?? {})).toEqual(['duration']);
  });

  it('answers RESOURCE_EXHAUSTED past the quota, and counts matrix elements', async () => {
    const fake = createFakeGoogleMaps({ quotaPerMinute: { routes: 1, routeMatrixElements: 4 } });
    const headers = { 'x-goog-api-key': 'k', 'x-goog-fieldmask': 'routes.duration' };
    expect((await fake.handle(post('/directions/v2:computeRoutes', { origin, destination }, headers))).status).toBe(
      200,
    );
    const over = await fake.handle(post('/directions/v2:computeRoutes', { origin, destination }, headers));
    expect(over.status).toBe(429);
    expect(await over.json()).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED' } });
    const m = {
      origins: [{ waypoint: origin }, { waypoint: origin }],
      destinations: [{ waypoint: destination }, { waypoint: destination }],
    };
    const mh = { 'x-goog-api-key': 'k', 'x-goog-fieldmask': 'originIndex,destinationIndex,status' };
    expect((await fake.handle(post('/distanceMatrix/v2:computeRouteMatrix', m, mh))).status).toBe(200);
    expect((await fake.handle(post('/distanceMatrix/v2:computeRouteMatrix', m, mh))).status).toBe(429);
    expect(fake.maxPerMinute('routeMatrix')).toBe(8);
  });

  it('leaves zero indexes and OK statuses out of matrix elements, as proto3 JSON does', async () => {
    const fake = createFakeGoogleMaps();
    const response = await fake.handle(
      post(
        '/distanceMatrix/v2:computeRouteMatrix',
        { origins: [{ waypoint: origin }], destinations: [{ waypoint: destination }] },
        { 'x-goog-api-key': 'k', 'x-goog-fieldmask': 'originIndex,destinationIndex,status,condition' },
      ),
    );
    expect(await response.json()).toEqual([{ status: {}, condition: 'ROUTE_EXISTS' }]);
  });

  it('masks nested paths and arrays; encodes polylines as Google does', () => {
    expect(applyMask({ routes: [{ a: 1, b: { c: 2, d: 3 } }], x: 1 }, 'routes.b.c')).toEqual({
      routes: [{ b: { c: 2 } }],
    });
    expect(applyMask({ a: 1 }, '*')).toEqual({ a: 1 });
    // The example of Google's polyline format documentation.
    expect(
      encodePolyline([
        { lat: 38.5, lng: -120.2 },
        { lat: 40.7, lng: -120.95 },
        { lat: 43.252, lng: -126.453 },
      ]),
    ).toBe('_p~iF~ps|U_ulLnnqC_mqNvxq`@');
  });
});
