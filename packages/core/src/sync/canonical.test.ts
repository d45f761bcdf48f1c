import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, compileVolatile, sha256Hex } from './canonical';

/** Rebuilds a JSON value with every object's keys in reverse order. */
function reorder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reorder);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reorder(v)]),
    );
  }
  return value;
}

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { z: [3, { y: 1, x: 2 }], c: 'é"\n' } })).toBe(
      '{"a":{"c":"é\\"\\n","z":[3,{"x":2,"y":1}]},"b":1}',
    );
  });

  it('follows JSON.stringify value by value', () => {
    const value = {
      date: new Date('2026-01-02T03:04:05.000Z'),
      skip: undefined,
      fn: () => 1,
      list: [undefined, () => 1, Number.NaN, Number.POSITIVE_INFINITY, -0, 1e21, null, true],
    };
    expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
    expect(canonicalJson(value)).toBe(
      '{"date":"2026-01-02T03:04:05.000Z","list":[null,null,null,null,0,1e+21,null,true]}',
    );
  });

  it('is the same for any key order (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(reorder(value))).toBe(canonicalJson(value));
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('leaves out volatile fields, nested ones and ones inside arrays', () => {
    const volatile = compileVolatile(['fetched_at', 'meta.request_id', 'items.etag']);
    const a = { id: 1, fetched_at: 'x', meta: { request_id: 'r1', page: 2 }, items: [{ sku: 'a', etag: '1' }] };
    const b = { id: 1, fetched_at: 'y', meta: { request_id: 'r2', page: 2 }, items: [{ sku: 'a', etag: '2' }] };
    expect(canonicalJson(a, volatile)).toBe(canonicalJson(b, volatile));
    expect(canonicalJson(a, volatile)).toBe('{"id":1,"items":[{"sku":"a"}],"meta":{"page":2}}');
    expect(canonicalJson({ ...a, meta: { ...a.meta, page: 3 } }, volatile)).not.toBe(canonicalJson(a, volatile));
  });

  it('a shorter path wins over a longer one through it', () => {
    expect(canonicalJson({ meta: { a: 1 }, id: 1 }, compileVolatile(['meta.a', 'meta']))).toBe('{"id":1}');
    expect(canonicalJson({ meta: { a: 1 }, id: 1 }, compileVolatile(['meta', 'meta.a']))).toBe('{"id":1}');
  });

  it('keeps keys that look like separators apart', () => {
    expect(canonicalJson({ a: 1, ',a': 2 })).toBe('{",a":2,"a":1}');
    expect(canonicalJson({ b: { ',a': 1, a: 2 } })).toBe('{"b":{",a":1,"a":2}}');
  });

  it('throws a TypeError for a bigint, as JSON.stringify does', () => {
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
  });
});

describe('sha256Hex', () => {
  it('hashes UTF-8 text like the reference vectors and like Web Crypto', async () => {
    const [empty, abc, accent] = await sha256Hex(['', 'abc', 'é']);
    expect(empty).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(abc).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const web = await crypto.subtle.digest('SHA-256', new TextEncoder().encode('é'));
    expect(accent).toBe(Buffer.from(web).toString('hex'));
  });
});
