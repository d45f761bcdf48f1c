import { secret } from '@ballast/core/vault';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { googleMapsClient } from './client';
import { isGoogleMapsError, isGoogleMapsUsageError } from './errors';
import { createFakeGoogleMaps } from './testing';

const KEY = 'AIzaTestKey0123456789';

function setup(extra: Partial<Parameters<typeof googleMapsClient>[0]> = {}) {
  const fake = createFakeGoogleMaps({ keys: [KEY] });
  const events: unknown[] = [];
  const maps = googleMapsClient({
    key: KEY,
    fetch: fake.fetch,
    retryBudget: false,
    baseDelayMs: 0,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { fake, maps, events };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('geocode', () => {
  it('geocodes a gazetteer address to its place id and coordinates', async () => {
    const { maps, fake } = setup();
    const answer = await maps.geocode({ address: '  10 Downing   Street, London ' });
    expect(answer.status).toBe('OK');
    expect(answer.results[0]).toMatchObject({
      placeId: 'ChIJRxzRQcUEdkgRGVaKyzmkgvg',
      location: { lat: 51.5033635, lng: -0.1276248 },
      locationType: 'ROOFTOP',
      partialMatch: false,
    });
    expect(fake.requests[0]?.path).toContain('address=10+Downing+Street%2C+London');
    expect(fake.requests[0]?.path).toContain('key=redacted');
  });

  it('treats ZERO_RESULTS as an empty success', async () => {
    const { maps } = setup();
    await expect(maps.geocode({ address: 'Nowhere Lane 1' })).resolves.toEqual({ status: 'ZERO_RESULTS', results: [] });
  });

  it('reverse geocodes and geocodes by place id', async () => {
    const { maps } = setup();
    const back = await maps.reverseGeocode({ latlng: { lat: 48.85837, lng: 2.29448 } });
    expect(back.results[0]?.placeId).toBe('ChIJLU7jZClu5kcR4PcOOO6p3I0');
    const byId = await maps.geocodePlaceId({ placeId: 'ChIJLU7jZClu5kcR4PcOOO6p3I0' });
    expect(byId.results[0]?.formattedAddress).toContain('Paris');
  });

  it('backs off and retries OVER_QUERY_LIMIT and UNKNOWN_ERROR, then answers', async () => {
    const { maps, fake } = setup();
    fake.outage('over_query_limit', { times: 2 });
    await expect(maps.geocode({ address: 'Eiffel Tower' })).resolves.toMatchObject({ status: 'OK' });
    fake.outage('unknown_error', { times: 1 });
    await expect(maps.geocode({ address: 'Sydney Opera House' })).resolves.toMatchObject({ status: 'OK' });
    expect(fake.requests.map((r) => r.status)).toEqual([
      'OVER_QUERY_LIMIT',
      'OVER_QUERY_LIMIT',
      'OK',
      'UNKNOWN_ERROR',
      'OK',
    ]);
  });

  it.each([
    ['over_daily_limit', 'over_daily_limit', 'OVER_DAILY_LIMIT'],
    ['request_denied', 'denied', 'REQUEST_DENIED'],
  ] as const)('%s is a typed error, sent once, never retried', async (mode, code, status) => {
    const { maps, fake } = setup();
    fake.outage(mode);
    const error = await maps.geocode({ address: 'Eiffel Tower' }).catch((e: unknown) => e);
    expect(isGoogleMapsError(error)).toBe(true);
    expect(error).toMatchObject({ code, status, transient: false, api: 'geocoding' });
    expect(fake.requests).toHaveLength(1);
  });

  it('a bad key is REQUEST_DENIED, and the key is in no message, field or event', async () => {
    const fake = createFakeGoogleMaps({ keys: [KEY] });
    const events: unknown[] = [];
    const maps = googleMapsClient({
      key: secret('AIzaWrongKey999'),
      fetch: fake.fetch,
      onEvent: (e) => events.push(e),
    });
    const error = await maps.geocode({ address: 'Eiffel Tower' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'denied', status: 'REQUEST_DENIED' });
    fake.outage('http_503');
    const down = await maps.geocode({ address: 'x' }).catch((e: unknown) => e);
    expect(down).toMatchObject({ code: 'unavailable', transient: true });
    const text = JSON.stringify([
      events,
      String(error),
      String(down),
      { ...(error as object) },
      { ...(down as object) },
    ]);
    expect(events.length).toBeGreaterThan(0);
    expect(text).not.toContain('AIzaWrongKey999');
  });

  it('an unreachable Google is unavailable', async () => {
    const { maps, fake } = setup({ attempts: 2 });
    fake.outage('refuse');
    await expect(maps.geocode({ address: 'Eiffel Tower' })).rejects.toMatchObject({ code: 'unavailable' });
    expect(fake.requests).toHaveLength(2);
  });

  it('concurrent identical requests make one call', async () => {
    const { maps, fake } = setup();
    const answers = await Promise.all([
      maps.geocode({ address: 'Eiffel Tower' }),
      maps.geocode({ address: 'eiffel   TOWER' }),
      maps.geocode({ address: 'Eiffel Tower', language: 'fr' }),
    ]);
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]).not.toBe(answers[1]);
    expect(fake.requests).toHaveLength(2);
  });

  it('refuses bad input before any call', async () => {
    const { maps, fake } = setup();
    const bad: unknown[] = [
      {},
      { address: '' },
      { address: '   ' },
      { address: 42 },
      { address: 'x', latlng: { lat: 1, lng: 2 } },
      { latlng: { lat: 91, lng: 0 } },
      { latlng: { lat: 0, lng: Number.NaN } },
      { placeId: 'not a place id' },
      { address: 'x', components: { planet: 'mars' } },
      { address: 'x', components: { country: 'F|R' } },
      { address: 'x', language: 'english!' },
      { address: 'x', region: 'united kingdom' },
      { latlng: { lat: 1, lng: 1 }, locationType: 'EXACT' },
      { address: 'x', bounds: { southwest: { lat: 10, lng: 0 }, northeast: { lat: 0, lng: 1 } } },
      null,
    ];
    for (const request of bad) {
      const error = await maps.geocode(request as never).catch((e: unknown) => e);
      expect(isGoogleMapsUsageError(error), JSON.stringify(request)).toBe(true);
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses options that cannot work, without echoing the key', () => {
    expect(() => googleMapsClient({ key: '' })).toThrow(/key must be/);
    expect(() => googleMapsClient({ key: 'has space secret' })).toThrow(/key must be/);
    expect(() => googleMapsClient({ key: 'has space secret' })).not.toThrow(/secret/);
    expect(() => googleMapsClient({ key: KEY, quotaPerMinute: 0 })).toThrow(/quotaPerMinute/);
    expect(() => googleMapsClient({ key: KEY, baseUrl: 'ftp://x' })).toThrow(/baseUrl/);
    expect(() => googleMapsClient(null as never)).toThrow(/options/);
  });
});
