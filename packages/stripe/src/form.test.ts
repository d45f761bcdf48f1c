import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStripeUsageError } from './errors';
import { decodeStripeForm, encodeStripeParams, type StripeParams } from './form';

describe('encodeStripeParams', () => {
  it('encodes nested objects, arrays of objects and arrays of strings with literal brackets', () => {
    expect(
      encodeStripeParams({
        mode: 'payment',
        metadata: { order: '42', note: 'a b&c=d' },
        line_items: [{ price: 'price_1', quantity: 2 }, { price_data: { currency: 'eur', unit_amount: 5 } }],
        expand: ['customer', 'payment_intent'],
      }),
    ).toBe(
      'mode=payment&metadata[order]=42&metadata[note]=a%20b%26c%3Dd&line_items[0][price]=price_1&line_items[0][quantity]=2' +
        '&line_items[1][price_data][currency]=eur&line_items[1][price_data][unit_amount]=5&expand[0]=customer&expand[1]=payment_intent',
    );
  });

  it('encodes booleans, bigints and dates as unix seconds; null and empty string unset; undefined is left out', () => {
    expect(
      encodeStripeParams({
        confirm: true,
        off: false,
        big: 12n,
        when: new Date(1_700_000_000_999),
        description: null,
        name: '',
        skipped: undefined,
        metadata: { remove: '' },
      }),
    ).toBe('confirm=true&off=false&big=12&when=1700000000&description=&name=&metadata[remove]=');
  });

  it('leaves out empty arrays and objects, as the SDKs do', () => {
    expect(encodeStripeParams({ expand: [], metadata: {}, a: 1 })).toBe('a=1');
  });

  it('percent-encodes key parts and unicode', () => {
    expect(encodeStripeParams({ metadata: { 'clé é': 'ünï' } })).toBe('metadata[cl%C3%A9%20%C3%A9]=%C3%BCn%C3%AF');
  });

  it.each([
    ['a function', { f: () => 1 }],
    ['a symbol', { s: Symbol('x') }],
    ['NaN', { n: Number.NaN }],
    ['Infinity', { n: Number.POSITIVE_INFINITY }],
    ['an invalid date', { d: new Date('nope') }],
    ['a Map', { m: new Map() }],
    ['a key with brackets', { 'a[b]': 1 }],
    ['an empty key', { '': 1 }],
    ['a value with a lone surrogate', { name: 'a\uD800b' }],
    ['a key with a lone surrogate', { metadata: { 'k\uDC00': 'v' } }],
  ])('rejects %s with a typed invalid_params error', (_name, params) => {
    try {
      encodeStripeParams(params as unknown as StripeParams);
      expect.unreachable();
    } catch (error) {
      expect(isStripeUsageError(error)).toBe(true);
      expect((error as { code: string }).code).toBe('invalid_params');
    }
  });

  it('rejects cycles and params that are not a plain object', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeStripeParams(cyclic as StripeParams)).toThrow(/cycle/);
    expect(() => encodeStripeParams([] as unknown as StripeParams)).toThrow(/plain object/);
    expect(() => encodeStripeParams(null as unknown as StripeParams)).toThrow(/plain object/);
  });

  it('round-trips through the decoder for any nested strings', () => {
    const key = fc.string({ minLength: 1, maxLength: 6 }).filter((k) => !/[[\]]/.test(k) && !/^\d+$/.test(k));
    const leaf = fc.string({ minLength: 1, maxLength: 8 });
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('node'), { minLength: 1, maxLength: 3 }),
        fc.dictionary(key, tie('node'), { minKeys: 1, maxKeys: 3 }),
      ),
    }));
    fc.assert(
      fc.property(fc.dictionary(key, tree.node, { minKeys: 1, maxKeys: 4 }), (params) => {
        expect(decodeStripeForm(encodeStripeParams(params as StripeParams))).toEqual(params);
      }),
    );
  });
});

describe('decodeStripeForm', () => {
  it('decodes plus as space and builds arrays from indices and []', () => {
    expect(decodeStripeForm('a=x+y&expand[]=one&expand[]=two&items[1][p]=b&items[0][p]=a')).toEqual({
      a: 'x y',
      expand: ['one', 'two'],
      items: [{ p: 'a' }, { p: 'b' }],
    });
  });

  it('returns undefined for conflicting keys and malformed names', () => {
    expect(decodeStripeForm('a=1&a[b]=2')).toBeUndefined();
    expect(decodeStripeForm('a[b]=2&a=1')).toBeUndefined();
    expect(decodeStripeForm('[x]=1')).toBeUndefined();
  });
});
