import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { normalizeGeocodeRequest, foldText as normalizeText, sha256HexPure } from './normalize';

const key = (r: Parameters<typeof normalizeGeocodeRequest>[0]) => normalizeGeocodeRequest(r).key;

describe('foldText', () => {
  it('folds whitespace, case and Unicode forms', () => {
    expect(normalizeText('  1600  AMPHITHEATRE\tPkwy ,Mountain   View ')).toBe('1600 amphitheatre pkwy, mountain view');
    expect(normalizeText('Straße 1')).toBe(normalizeText('STRASSE 1'));
    expect(normalizeText('ｆｕｌｌｗｉｄｔｈ　１')).toBe('fullwidth 1'); // NFKC: full-width letters, digits and space
    expect(normalizeText('Cafe\u0301')).toBe(normalizeText('Café')); // combining accent vs precomposed
    expect(normalizeText('ΟΔΟΣ')).toBe(normalizeText('οδος'));
  });
});

describe('normalizeGeocodeRequest', () => {
  it('gives equivalent addresses one key, and a string the same key as { address }', () => {
    const k = key('10 Downing St, London');
    expect(key('  10 downing st ,LONDON')).toBe(k);
    expect(key({ address: '10 DOWNING ST,  london' })).toBe(k);
    expect(k).toMatch(/^v1:[0-9a-f]{64}$/);
  });

  it('keeps apart what changes the answer: components, region, language, bounds', () => {
    const base = key({ address: 'Springfield' });
    const variants = [
      key({ address: 'Springfield', components: { country: 'US' } }),
      key({ address: 'Springfield', region: 'us' }),
      key({ address: 'Springfield', language: 'fr' }),
      key({ address: 'Springfield', bounds: { southwest: { lat: 39, lng: -90 }, northeast: { lat: 40, lng: -89 } } }),
      key({ address: 'Springfield, IL' }),
    ];
    expect(new Set([base, ...variants]).size).toBe(6);
  });

  it('normalizes components (any order, any case) and tags', () => {
    const k = key({
      address: 'Main St',
      components: { country: 'US', postal_code: '62701' },
      region: 'us',
      language: 'en-GB',
    });
    expect(
      key({
        address: 'main st',
        components: { postal_code: '62701', country: 'us' },
        region: ' US ',
        language: 'en-gb',
      }),
    ).toBe(k);
    expect(
      key({
        address: 'main st',
        components: { country: ' us ', postal_code: '62701' },
        region: 'us',
        language: 'EN-GB',
      }),
    ).toBe(k);
    expect(
      key({ address: 'main st', components: 'POSTAL_CODE:62701|country:US|', region: 'us', language: 'en-gb' }),
    ).toBe(k);
    expect(key({ components: { country: 'US' } })).not.toBe(key({ components: { country: 'FR' } }));
  });

  it('rounds reverse geocoding to 5 decimals and sends the rounded point', () => {
    const a = normalizeGeocodeRequest({ latlng: { lat: 40.714224, lng: -73.961452 } });
    const b = normalizeGeocodeRequest({ latlng: { lat: 40.7142241, lng: -73.9614519 } });
    expect(a.key).toBe(b.key);
    expect(a.request).toEqual({ latlng: { lat: 40.71422, lng: -73.96145 } });
    expect(key({ latlng: { lat: 40.71423, lng: -73.96145 } })).not.toBe(a.key);
    // -0 and 0 are one point
    expect(key({ latlng: { lat: -0.000001, lng: 0 } })).toBe(key({ latlng: { lat: 0, lng: 0 } }));
    // filters are sets
    expect(key({ latlng: { lat: 1, lng: 2 }, resultType: ['street_address', 'route'] })).toBe(
      key({ latlng: { lat: 1, lng: 2 }, resultType: 'route|street_address' }),
    );
    expect(key({ latlng: { lat: 1, lng: 2 }, resultType: 'route' })).not.toBe(key({ latlng: { lat: 1, lng: 2 } }));
  });

  it('keeps place ids case-sensitive and apart from addresses', () => {
    expect(key({ placeId: 'ChIJabc' })).not.toBe(key({ placeId: 'chijabc' }));
    expect(key({ placeId: ' ChIJabc ' })).toBe(key({ placeId: 'ChIJabc' }));
    expect(key({ placeId: 'ChIJabc' })).not.toBe(key('ChIJabc'));
    expect(normalizeGeocodeRequest({ placeId: 'ChIJabc', language: 'de' }).request).toEqual({
      placeId: 'ChIJabc',
      language: 'de',
    });
  });

  it('takes an address of 2048 characters (spaces collapsed first), as the client does', () => {
    expect(normalizeGeocodeRequest('x'.repeat(2048)).kind).toBe('address');
    expect(normalizeGeocodeRequest(` ${'x'.repeat(2048)}  `).kind).toBe('address');
    expect(normalizeGeocodeRequest(`${'a   '.repeat(600)}b`).kind).toBe('address'); // 2,401 typed, 1,201 sent
  });

  it('sends the caller’s own address text', () => {
    expect(normalizeGeocodeRequest('  Main St ').request).toEqual({ address: '  Main St ' });
  });

  it('rejects what cannot be geocoded, with invalid_params', () => {
    const bad = expect.objectContaining({ name: 'GoogleMapsUsageError', code: 'invalid_params' });
    const cases: unknown[] = [
      '',
      '   ',
      {},
      null,
      42,
      ['a'],
      { address: 1 },
      { address: 'x', placeId: 'p' },
      { address: 'x', latlng: { lat: 1, lng: 2 } },
      { latlng: { lat: 91, lng: 0 } },
      { latlng: { lat: 0, lng: -181 } },
      { latlng: { lat: Number.NaN, lng: 0 } },
      { latlng: '1,2' },
      { placeId: '' },
      { placeId: 3 },
      { components: 'country' },
      { components: '|' },
      { components: {} },
      { components: { country: '' } },
      { components: { country: 5 } },
      { address: 'x', language: '' },
      { address: 'x', region: 7 },
      { address: 'x', bounds: { southwest: { lat: 0, lng: 0 } } },
      { latlng: { lat: 0, lng: 0 }, resultType: [''] },
      'x'.repeat(2049),
      { address: `${'a '.repeat(1024)}b` },
    ];
    for (const c of cases) expect(() => normalizeGeocodeRequest(c as never), JSON.stringify(c)).toThrow(bad);
  });
});

describe('sha256HexPure (for runtimes without node:crypto)', () => {
  it('agrees with node:crypto on empty, ASCII, multi-byte and block-boundary texts', () => {
    for (const text of ['', 'abc', 'ß ç 東京 🗺️', 'a'.repeat(55), 'a'.repeat(56), 'a'.repeat(64), 'x'.repeat(1000)]) {
      expect(sha256HexPure(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
    }
  });
});
