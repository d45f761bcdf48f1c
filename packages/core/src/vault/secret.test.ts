import { format, inspect } from 'node:util';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { isVaultError } from './errors';
import { constantTimeEqual, isSecret, REDACTED, revealSecret, Secret, secret } from './secret';

const RAW = 'sk_live_51Hx9TOPSECRETvalue';

describe('Secret', () => {
  it('reveals the value only through reveal()', () => {
    const s = secret(RAW);
    expect(s.reveal()).toBe(RAW);
    expect(Secret.from(RAW).reveal()).toBe(RAW);
    expect(revealSecret(s)).toBe(RAW);
    expect(revealSecret('plain')).toBe('plain');
    expect(s.length).toBe(RAW.length);
  });

  it('redacts every string conversion', () => {
    const s = secret(RAW);
    expect(String(s)).toBe(REDACTED);
    expect(`${s}`).toBe(REDACTED);
    expect(`key=${s}`).toBe('key=[redacted]');
    expect(s.toString()).toBe(REDACTED);
    // biome-ignore lint/style/useTemplate: the + operator is the conversion under test
    expect('key=' + s).toBe('key=[redacted]');
    expect(Object.prototype.toString.call(s)).toBe('[object Secret]');
  });

  it('redacts JSON output, also nested', () => {
    const s = secret(RAW);
    expect(JSON.stringify(s)).toBe('"[redacted]"');
    const nested = JSON.stringify({ headers: { authorization: s }, list: [s] });
    expect(nested).not.toContain(RAW);
    expect(JSON.parse(nested)).toEqual({ headers: { authorization: REDACTED }, list: [REDACTED] });
  });

  it('redacts util.inspect, console formatting and %s / %o / %j', () => {
    const s = secret(RAW);
    expect(inspect(s)).toBe('Secret([redacted])');
    expect(inspect({ deep: { deeper: { s } } }, { depth: 10 })).not.toContain(RAW);
    expect(inspect(s, { showHidden: true })).not.toContain(RAW);
    for (const spec of ['%s', '%o', '%O', '%j', '%d']) expect(format(spec, s)).not.toContain(RAW);
  });

  it('leaks nothing through spread, keys, entries or structuredClone', () => {
    const s = secret(RAW);
    expect(Object.keys(s)).toEqual([]);
    expect(JSON.stringify({ ...s })).toBe('{}');
    expect(Object.getOwnPropertyNames(s)).toEqual([]);
    const clone = structuredClone({ s });
    expect(inspect(clone, { showHidden: true, depth: 10 })).not.toContain(RAW);
    expect(JSON.stringify(clone)).not.toContain(RAW);
    expect(isSecret(clone.s)).toBe(false);
  });

  it('stays redacted inside errors, their messages and their causes', () => {
    const s = secret(RAW);
    const error = new Error(`request failed with ${s}`, { cause: { token: s } });
    expect(error.message).not.toContain(RAW);
    expect(inspect(error, { depth: 10 })).not.toContain(RAW);
    expect(String(error)).not.toContain(RAW);
  });

  it('is frozen: the value cannot be swapped', () => {
    const s = secret(RAW);
    expect(Object.isFrozen(s)).toBe(true);
    expect(() => {
      (s as unknown as { reveal: () => string }).reveal = () => 'x';
    }).toThrow(TypeError);
  });

  it('compares with another secret or a string', () => {
    const s = secret(RAW);
    expect(s.equals(secret(RAW))).toBe(true);
    expect(s.equals(RAW)).toBe(true);
    expect(s.equals(`${RAW}x`)).toBe(false);
    expect(s.equals(RAW.slice(0, -1))).toBe(false);
    expect(s.equals(secret('other'))).toBe(false);
    expect(s.equals(42 as unknown as string)).toBe(false);
  });

  it('compares bytes in constant-time style, including unequal lengths', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([]), new Uint8Array([]))).toBe(true);
  });

  it.each([
    ['an empty string', ''],
    ['a number', 42],
    ['undefined', undefined],
    ['null', null],
    ['an object', { value: 'x' }],
  ])('rejects %s with a typed error', (_label, value) => {
    let caught: unknown;
    try {
      secret(value as string);
    } catch (error) {
      caught = error;
    }
    expect(isVaultError(caught)).toBe(true);
    expect((caught as { code: string }).code).toBe('invalid_secret');
  });

  it('isSecret tells secrets apart from look-alikes, across realms', () => {
    expect(isSecret(secret(RAW))).toBe(true);
    expect(isSecret(RAW)).toBe(false);
    expect(isSecret({ reveal: () => RAW })).toBe(false);
    expect(isSecret(null)).toBe(false);
    const brand = Symbol.for('@ballast/secret');
    const foreign = runInNewContext('({ [brand]: true, reveal() { return "x"; } })', { brand });
    expect(isSecret(foreign)).toBe(true);
  });
});
