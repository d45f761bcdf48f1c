import { expect, it, describe as suite } from 'vitest';
import {
  arrayOf,
  boolean,
  describe,
  either,
  fn,
  instance,
  integer,
  number,
  oneOf,
  optional,
  readFields,
  required,
  text,
  withDefault,
} from './fields';

suite('field rules', () => {
  it('pass good values and name what is wrong with bad ones', () => {
    expect(text(1, 3)('ab')).toBeUndefined();
    expect(text(1, 3)('')).toBe('must not be empty');
    expect(text(1, 3)('abcd')).toBe('must have at most 3 characters, got 4');
    expect(text()(5)).toBe('must be a string, got 5');
    expect(integer(1, 10)(10)).toBeUndefined();
    expect(integer(1, 10)(1.5)).toBe('must be an integer from 1 to 10, got 1.5');
    expect(integer(1)(0)).toBe('must be an integer >= 1, got 0');
    expect(integer(0)(Number.NaN)).toBe('must be an integer >= 0, got NaN');
    expect(number(0, 1)(0.5)).toBeUndefined();
    expect(number(0, 1)(Number.POSITIVE_INFINITY)).toBe('must be a number from 0 to 1, got Infinity');
    expect(number(0, 1)('0.5')).toBe('must be a number from 0 to 1, got "0.5"');
    expect(boolean(false)).toBeUndefined();
    expect(boolean(0)).toBe('must be true or false, got 0');
    expect(fn(() => {})).toBeUndefined();
    expect(fn({})).toBe('must be a function, got an object');
    expect(oneOf(['full', 'incremental'])('sideways')).toBe('must be one of "full", "incremental", got "sideways"');
    expect(instance(AbortSignal, 'an AbortSignal')(new AbortController().signal)).toBeUndefined();
    expect(instance(AbortSignal, 'an AbortSignal')({ aborted: false })).toBe('must be an AbortSignal, got an object');
  });

  it('either passes a value any rule takes and lists every alternative otherwise', () => {
    const rule = either(integer(1), oneOf([false]));
    expect(rule(500)).toBeUndefined();
    expect(rule(false)).toBeUndefined();
    expect(rule(true)).toBe('must be an integer >= 1, or must be one of false, got true');
  });

  it('describes long strings, arrays, null and undefined without echoing them', () => {
    expect(describe('x'.repeat(41))).toBe('a string of 41 characters');
    expect(describe([1])).toBe('an array');
    expect(describe(null)).toBe('null');
    expect(describe(undefined)).toBe('undefined');
  });
});

suite('readFields', () => {
  const fields = {
    name: required<string>(text(1)),
    size: withDefault(integer(1, 100), 10),
    tags: withDefault<readonly string[]>(arrayOf(text(1)), []),
    hook: optional<() => void>(fn),
  };

  it('fills defaults, keeps given values, leaves out unknown keys and copies arrays', () => {
    const tags = ['a'];
    const result = readFields({ name: 'x', tags, extra: 1 }, fields);
    expect(result).toEqual({ ok: true, value: { name: 'x', size: 10, tags: ['a'] } });
    if (result.ok) {
      expect(result.value.tags).not.toBe(tags);
      expect('hook' in result.value).toBe(false);
    }
  });

  it('names every failing field, array elements by index, and a missing required field', () => {
    const result = readFields({ size: 0, tags: ['ok', '', 3], hook: 'no' }, fields);
    expect(result).toEqual({
      ok: false,
      problems: [
        'name: is required',
        'size: must be an integer from 1 to 100, got 0',
        'tags.1: must not be empty',
        'tags.2: must be a string, got 3',
        'hook: must be a function, got "no"',
      ],
    });
    expect(readFields({ name: 'x', tags: 'a' }, fields)).toEqual({
      ok: false,
      problems: ['tags: must be an array, got "a"'],
    });
  });
});
