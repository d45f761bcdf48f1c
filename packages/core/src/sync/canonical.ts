/**
 * Content hashing for sync rows: canonical JSON (keys sorted at every depth,
 * declared volatile fields left out), then SHA-256.
 *
 * The canonical text follows `JSON.stringify` value by value (dates through
 * `toJSON`, `undefined` and functions dropped from objects and written as
 * `null` in arrays, non-finite numbers as `null`), so two payloads hash alike
 * exactly when their stored JSON differs only in key order or in volatile
 * fields.
 */

/** Compiled volatile paths: a trie of keys; `true` marks a key left out entirely. */
export type VolatileTrie = ReadonlyMap<string, VolatileTrie | true>;

const EMPTY: VolatileTrie = new Map();

/**
 * Compiles dotted paths (`fetched_at`, `meta.request_id`) into a trie. A path
 * through an array applies to every element of it.
 */
export function compileVolatile(paths: readonly string[]): VolatileTrie {
  const root = new Map<string, Map<string, unknown> | true>();
  for (const path of paths) {
    const keys = path.split('.');
    let node = root;
    keys.forEach((key, i) => {
      const last = i === keys.length - 1;
      const existing = node.get(key);
      if (existing === true) return;
      if (last) {
        node.set(key, true);
        return;
      }
      let next = existing;
      if (next === undefined) {
        next = new Map();
        node.set(key, next);
      }
      node = next as typeof root;
    });
  }
  return root as VolatileTrie;
}

// `"key":` and `,"key":` texts, reused across records of the same shape
// (bounded: each map is cleared when it grows past 10,000 keys).
const openers = new Map<string, string>();
const followers = new Map<string, string>();

/** The text that opens an object member: `"key":`, with a leading comma unless it is the first. */
function member(key: string, first: boolean): string {
  const cache = first ? openers : followers;
  let text = cache.get(key);
  if (text === undefined) {
    if (cache.size > 10_000) cache.clear();
    text = `${first ? '' : ','}${JSON.stringify(key)}:`;
    cache.set(key, text);
  }
  return text;
}

function writeValue(value: unknown, volatile: VolatileTrie, out: string[]): void {
  let v = value;
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    v = (v as { toJSON(): unknown }).toJSON();
  }
  switch (typeof v) {
    case 'string':
      out.push(JSON.stringify(v));
      return;
    case 'number':
      out.push(Number.isFinite(v) ? String(v) : 'null');
      return;
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return;
    case 'bigint':
      throw new TypeError('a bigint is not JSON');
    case 'object':
      break;
    default:
      out.push('null');
      return;
  }
  if (v === null) {
    out.push('null');
    return;
  }
  if (Array.isArray(v)) {
    out.push('[');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out.push(',');
      const item: unknown = v[i];
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') out.push('null');
      else writeValue(item, volatile, out);
    }
    out.push(']');
    return;
  }
  const record = v as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  out.push('{');
  let first = true;
  for (const key of keys) {
    const item = record[key];
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    const rule = volatile.get(key);
    if (rule === true) continue;
    out.push(member(key, first));
    first = false;
    writeValue(item, rule ?? EMPTY, out);
  }
  out.push('}');
}

/**
 * The canonical JSON text of a value: object keys sorted, volatile fields
 * left out. Throws a `TypeError` for a value JSON cannot represent (a bigint).
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: { z: 1, y: 2 } }); // '{"a":{"y":2,"z":1},"b":1}'
 * ```
 */
export function canonicalJson(value: unknown, volatile: VolatileTrie = EMPTY): string {
  const out: string[] = [];
  writeValue(value, volatile, out);
  return out.join('');
}

type NodeCrypto = typeof import('node:crypto');

// node:crypto when the runtime exposes built-ins without a static import
// (Node >= 22.3, Bun, Deno); Web Crypto elsewhere. Both give the same SHA-256.
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function toHex(bytes: ArrayBuffer): string {
  const view = new Uint8Array(bytes);
  let s = '';
  for (const b of view) s += HEX[b];
  return s;
}

const encoder = new TextEncoder();

/** SHA-256 (hex) of each text, in order. */
export async function sha256Hex(texts: readonly string[]): Promise<string[]> {
  if (nodeCrypto) return texts.map((t) => nodeCrypto.createHash('sha256').update(t, 'utf8').digest('hex'));
  return Promise.all(
    texts.map(async (t) => toHex(await globalThis.crypto.subtle.digest('SHA-256', encoder.encode(t)))),
  );
}
