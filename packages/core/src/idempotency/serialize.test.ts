import { describe, expect, it } from 'vitest';
import { decodeError, decodeResult, encodeError, encodeResult, serializeError } from './serialize';

describe('encodeResult', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  class Money {
    cents = 5;
  }

  const refused: [string, unknown, RegExp][] = [
    ['a Date', { at: new Date(0) }, /result\.at is a Date instance/],
    ['a Map', new Map([['a', 1]]), /result is a Map instance/],
    ['a Set in an array', [1, new Set()], /result\[1\] is a Set instance/],
    ['a class instance', { price: new Money() }, /result\.price is a Money instance/],
    ['a bigint', { n: 10n }, /result\.n is a bigint/],
    ['a function', { f: () => 1 }, /result\.f is a function/],
    ['a symbol', Symbol('s'), /result is a symbol/],
    ['NaN', { x: Number.NaN }, /result\.x is NaN/],
    ['Infinity', [Number.POSITIVE_INFINITY], /result\[0\] is Infinity/],
    ['undefined inside an array', [1, undefined], /result\[1\] is undefined/],
    ['a circular reference', cyclic, /result\.self is a circular reference/],
  ];

  it.each(refused)('refuses %s with not_serializable and says where', (_, value, where) => {
    let error: unknown;
    try {
      encodeResult(value, 'k');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: 'IdempotencyError', code: 'not_serializable', key: 'k' });
    expect((error as Error).message).toMatch(where);
  });

  const kept: [string, unknown][] = [
    ['undefined', undefined],
    ['null', null],
    ['a number', -1.5],
    ['a string', 'héllo'],
    ['false', false],
    ['nested plain data', { a: [1, { b: 'c' }], d: null, e: { f: true } }],
    ['an object without prototype', Object.assign(Object.create(null), { a: 1 })],
    [
      'the same object referenced twice (not a cycle)',
      (() => {
        const shared = { x: 1 };
        return { a: shared, b: [shared] };
      })(),
    ],
  ];

  it.each(kept)('round-trips %s unchanged', (_, value) => {
    expect(decodeResult(encodeResult(value, 'k'))).toEqual(value);
  });

  it('drops undefined object properties, which read back as undefined anyway', () => {
    const back = decodeResult(encodeResult({ a: 1, b: undefined }, 'k')) as Record<string, unknown>;
    expect(back).toEqual({ a: 1 });
    expect(back.b).toBeUndefined();
  });
});

describe('error serialization', () => {
  it('keeps name, message and a string or number code', () => {
    const e = Object.assign(new RangeError('too big'), { code: 'E_BIG', extra: { secret: 1 } });
    expect(decodeError(encodeError(serializeError(e)))).toEqual({
      name: 'RangeError',
      message: 'too big',
      code: 'E_BIG',
    });
    expect(serializeError(Object.assign(new Error('x'), { code: 503 }))).toEqual({
      name: 'Error',
      message: 'x',
      code: 503,
    });
    expect(serializeError(Object.assign(new Error('x'), { code: { nested: true } }))).toEqual({
      name: 'Error',
      message: 'x',
    });
  });

  it('describes thrown non-errors', () => {
    expect(serializeError('plain string')).toEqual({ name: 'Error', message: 'plain string' });
    expect(serializeError(42)).toEqual({ name: 'Error', message: '42' });
    expect(serializeError({ message: 'like an error' })).toEqual({ name: 'Error', message: 'like an error' });
  });

  it('tolerates unreadable stored errors', () => {
    expect(decodeError('not json')).toEqual({ name: 'Error', message: 'unreadable cached error' });
    expect(decodeError(null)).toEqual({ name: 'Error', message: 'unknown error' });
    expect(decodeError('{"v":{"name":5}}')).toEqual({ name: 'Error', message: 'unknown error' });
  });
});
