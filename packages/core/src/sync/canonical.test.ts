import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalizer,
  canonicalJson,
  compileVolatile,
  sha256Hex,
  sha256HexSync,
  type VolatileTrie,
} from './canonical';

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

/** Like `reorder`, for any value: reverses the keys of plain objects only (a Date stays a Date). */
function reorderAny(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reorderAny);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reorderAny(v)]),
    );
  }
  return value;
}

/**
 * The plain writer the cached one must match: sorts the keys of every object
 * it meets, with nothing remembered between calls.
 */
function reference(value: unknown, volatile: VolatileTrie): string {
  let v = value;
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    v = (v as { toJSON(): unknown }).toJSON();
  }
  if (typeof v === 'bigint') throw new TypeError('a bigint is not JSON');
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
    return typeof v === 'number' && Number.isFinite(v) ? String(v) : 'null';
  }
  const skip = (x: unknown) => x === undefined || typeof x === 'function' || typeof x === 'symbol';
  if (Array.isArray(v)) return `[${v.map((x: unknown) => (skip(x) ? 'null' : reference(x, volatile))).join(',')}]`;
  const record = v as Record<string, unknown>;
  const members = Object.keys(record)
    .sort()
    .filter((k) => !skip(record[k]) && volatile.get(k) !== true)
    .map(
      (k) => `${JSON.stringify(k)}:${reference(record[k], (volatile.get(k) as VolatileTrie | undefined) ?? new Map())}`,
    );
  return `{${members.join(',')}}`;
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
    const volatile = ['fetched_at', 'meta.request_id', 'items.etag'];
    const a = { id: 1, fetched_at: 'x', meta: { request_id: 'r1', page: 2 }, items: [{ sku: 'a', etag: '1' }] };
    const b = { id: 1, fetched_at: 'y', meta: { request_id: 'r2', page: 2 }, items: [{ sku: 'a', etag: '2' }] };
    expect(canonicalJson(a, volatile)).toBe(canonicalJson(b, volatile));
    expect(canonicalJson(a, volatile)).toBe('{"id":1,"items":[{"sku":"a"}],"meta":{"page":2}}');
    expect(canonicalJson({ ...a, meta: { ...a.meta, page: 3 } }, volatile)).not.toBe(canonicalJson(a, volatile));
  });

  it('a shorter path wins over a longer one through it', () => {
    expect(canonicalJson({ meta: { a: 1 }, id: 1 }, ['meta.a', 'meta'])).toBe('{"id":1}');
    expect(canonicalJson({ meta: { a: 1 }, id: 1 }, ['meta', 'meta.a'])).toBe('{"id":1}');
  });

  it('keeps keys that look like separators apart', () => {
    expect(canonicalJson({ a: 1, ',a': 2 })).toBe('{",a":2,"a":1}');
    expect(canonicalJson({ b: { ',a': 1, a: 2 } })).toBe('{"b":{",a":1,"a":2}}');
  });

  it('throws a TypeError for a bigint, as JSON.stringify does', () => {
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
  });
});

describe('canonicalizer (shapes remembered between records)', () => {
  const keys = ['a', 'b', 'c', 'id', 'meta', 'items', '__proto__', 'toJSON', 'é', '"q"'];
  const volatilePaths = fc.array(
    fc.array(fc.constantFrom(...keys), { minLength: 1, maxLength: 3 }).map((path) => path.join('.')),
    { maxLength: 3 },
  );
  // JSON.stringify's corner cases besides plain JSON: lone surrogates, control
  // characters, dates, undefined, functions, non-finite numbers, -0
  const leaf = fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.string({ unit: fc.constantFrom('a', '"', '\\', '\n', '\u0000', '\u2028', '\ud800', '\udc00', 'é', '😀') }),
    fc.double(),
    fc.constantFrom(-0, Number.NaN, Number.POSITIVE_INFINITY, true, false, null, undefined, () => 1),
    fc.date({ noInvalidDate: true }),
  );
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
    array: fc.array(tie('node'), { maxLength: 4 }),
    object: fc.dictionary(fc.constantFrom(...keys), tie('node'), { maxKeys: 6 }),
  })).node;

  it('writes what the plain writer writes, for any sequence of values and volatile paths (property)', () => {
    fc.assert(
      fc.property(volatilePaths, fc.array(value, { minLength: 1, maxLength: 12 }), (paths, values) => {
        const canonical = canonicalizer(paths);
        const trie = compileVolatile(paths);
        // each value twice, the second time with reordered keys: the remembered shape must not leak
        for (const v of values) {
          expect(canonical(v)).toBe(reference(v, trie));
          expect(canonical(reorderAny(v))).toBe(reference(v, trie));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('writes a record of the same keys in another order, or of other keys, correctly after a remembered shape', () => {
    const canonical = canonicalizer(['x.v']);
    expect(canonical({ a: 1, b: { v: 1, w: 2 } })).toBe('{"a":1,"b":{"v":1,"w":2}}');
    expect(canonical({ b: { w: 2, v: 1 }, a: 1 })).toBe('{"a":1,"b":{"v":1,"w":2}}');
    expect(canonical({ a: 1, b: { v: 1, w: 2 }, c: 3 })).toBe('{"a":1,"b":{"v":1,"w":2},"c":3}');
    expect(canonical({ a: 1 })).toBe('{"a":1}');
    // the same key list under another volatile rule: `x.v` applies below x only
    expect(canonical({ x: { v: 1, w: 2 }, b: { v: 1, w: 2 } })).toBe('{"b":{"v":1,"w":2},"x":{"w":2}}');
    expect(canonical([{ v: 1 }, { w: 1, v: 2 }, { v: 3, w: 4 }])).toBe('[{"v":1},{"v":2,"w":1},{"v":3,"w":4}]');
    expect(canonical({ a: undefined, b: () => 1, c: 2 })).toBe('{"c":2}');
    expect(canonical({ a: 1, b: 2, c: 3 })).toBe('{"a":1,"b":2,"c":3}');
  });

  it('writes strings exactly as JSON.stringify does (property)', () => {
    const canonical = canonicalizer();
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(canonical(text)).toBe(JSON.stringify(text));
        expect(canonical({ [text]: text })).toBe(JSON.stringify({ [text]: text }));
      }),
    );
  });

  it('throws a TypeError for a bigint and stays usable afterwards', () => {
    const canonical = canonicalizer();
    expect(() => canonical({ a: 1, n: 1n })).toThrow(TypeError);
    expect(canonical({ n: 2, a: 1 })).toBe('{"a":1,"n":2}');
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

  it('hashes synchronously on Node, with the same digests', async () => {
    expect(sha256HexSync).toBeTypeOf('function');
    const texts = ['', 'abc', 'é', '\ud800', 'x'.repeat(5000)];
    expect(texts.map((t) => sha256HexSync?.(t))).toEqual(await sha256Hex(texts));
    expect(sha256HexSync?.('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
