import { Client, Status } from '@googlemaps/google-maps-services-js';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { googleMapsClient } from '../client';
import { createFakeGoogleMaps } from './index';
import { googleMapsMswHandlers } from './msw';

/**
 * The official @googlemaps/google-maps-services-js client, its requests to
 * maps.googleapis.com intercepted by the fake's msw handlers: it must get the
 * answers and errors the real service gives, and its own retry rules show
 * (it retries OVER_DAILY_LIMIT, which ours does not).
 */
const KEY = 'AIzaOfficialClientKey';
const fake = createFakeGoogleMaps({ keys: [KEY] });
const server = setupServer();

beforeAll(async () => {
  server.use(...(await googleMapsMswHandlers(fake)));
  server.listen({ onUnhandledFrame: 'error' });
});
afterEach(() => fake.reset());
afterAll(() => server.close());

describe('the official client against the fake (msw)', () => {
  const sdk = new Client({});

  it('geocodes forward, reverse and by place id', async () => {
    const forward = await sdk.geocode({
      params: { address: '1600 Amphitheatre Parkway, Mountain View, CA', key: KEY },
    });
    expect(forward.data.status).toBe(Status.OK);
    expect(forward.data.results[0]?.place_id).toBe('ChIJj61dQgK6j4AR4GeTYWZsKWw');
    expect(forward.data.results[0]?.geometry.location).toEqual({ lat: 37.4224764, lng: -122.0842499 });
    const reverse = await sdk.reverseGeocode({ params: { latlng: { lat: 37.42248, lng: -122.08425 }, key: KEY } });
    expect(reverse.data.results[0]?.place_id).toBe('ChIJj61dQgK6j4AR4GeTYWZsKWw');
    const byId = await sdk.reverseGeocode({ params: { place_id: 'ChIJj61dQgK6j4AR4GeTYWZsKWw', key: KEY } });
    expect(byId.data.results[0]?.formatted_address).toContain('Mountain View');
  });

  it('any other address hashes to the same coordinates and place id every time', async () => {
    const a = await sdk.geocode({ params: { address: '12 Rue Imaginaire, Lyon', key: KEY } });
    const b = await sdk.geocode({ params: { address: '12 rue imaginaire,  LYON', key: KEY } });
    expect(a.data.results[0]?.place_id).toBe(b.data.results[0]?.place_id);
    expect(a.data.results[0]?.geometry.location).toEqual(b.data.results[0]?.geometry.location);
    const again = await sdk.reverseGeocode({ params: { place_id: a.data.results[0]?.place_id as string, key: KEY } });
    expect(again.data.results[0]?.geometry.location).toEqual(a.data.results[0]?.geometry.location);
  });

  it('ZERO_RESULTS is a 200 for it too', async () => {
    const r = await sdk.geocode({ params: { address: 'nowhere at all', key: KEY } });
    expect(r.status).toBe(200);
    expect(r.data.status).toBe(Status.ZERO_RESULTS);
  });

  it('REQUEST_DENIED for a bad key becomes its 403, not retried', async () => {
    const error = await sdk.geocode({ params: { address: 'Eiffel Tower', key: 'AIzaWrong' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ response: { status: 403, data: { status: 'REQUEST_DENIED' } } });
    expect(fake.requests).toHaveLength(1);
  });

  it('INVALID_REQUEST becomes its 400, not retried', async () => {
    const error = await sdk.geocode({ params: { key: KEY } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ response: { status: 400, data: { status: 'INVALID_REQUEST' } } });
    expect(fake.requests).toHaveLength(1);
  });

  it('it retries OVER_DAILY_LIMIT (mapped to 429); ours sends it once and reports a typed error', async () => {
    fake.outage('over_daily_limit', { times: 1 });
    const r = await sdk.geocode({ params: { address: 'Eiffel Tower', key: KEY } });
    expect(r.data.status).toBe(Status.OK);
    expect(fake.requests.map((q) => q.status)).toEqual(['OVER_DAILY_LIMIT', 'OK']);

    fake.reset();
    fake.outage('over_daily_limit', { times: 1 });
    const ours = googleMapsClient({ key: KEY, breaker: false, retryBudget: false });
    await expect(ours.geocode({ address: 'Eiffel Tower' })).rejects.toMatchObject({
      code: 'over_daily_limit',
      status: 'OVER_DAILY_LIMIT',
    });
    expect(fake.requests).toHaveLength(1);
  });

  it('it retries UNKNOWN_ERROR (500) and a 503 like ours', async () => {
    fake.outage('unknown_error', { times: 1 });
    expect((await sdk.geocode({ params: { address: 'Eiffel Tower', key: KEY } })).data.status).toBe(Status.OK);
    fake.outage('http_503', { times: 1 });
    expect((await sdk.geocode({ params: { address: 'Eiffel Tower', key: KEY } })).data.status).toBe(Status.OK);
    expect(fake.requests.map((q) => q.httpStatus)).toEqual([200, 200, 503, 200]);
  });
});
