/**
 * Content hashing for sync rows: canonical JSON (keys sorted at every depth,
 * declared volatile fields left out), then SHA-256.
 *
 * The canonical text follows `JSON.stringify` value by value (dates through
 * `toJSON`, `undefined` and functions dropped from objects and written as
 * `null` in arrays, non-finite numbers as `null`), so two payloads hash alike
 * exactly when their stored JSON differs only in key order or in volatile
 * fields.
 *
 * Records of one provider entity share their shapes, so a canonicalizer
 * remembers, at each position in the value (the root, `org`, the elements of
 * `labels`...), the last key list it met there, its sorted order and the
 * `"key":` texts. A record of the same shape skips the sort and the volatile
 * lookups; any other shape is sorted afresh and replaces the remembered one.
 * The text is the same either way (decision 0406).
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

/** The members an object of one key list writes, in canonical order (volatile keys already left out). */
interface Shape {
  /** The object's own keys in insertion order, as `Object.keys` gave them. */
  readonly keys: readonly string[];
  /** Indexes into `keys`, sorted by key. */
  readonly order: readonly number[];
  /** `"key":` for each member, in the same order. */
  readonly texts: readonly string[];
  /** The volatile rules below each member. */
  readonly rules: readonly VolatileTrie[];
  /** The positions below each member. */
  readonly slots: readonly Slot[];
}

/** One position in a value: the shape last seen there, and the position of its array elements. */
interface Slot {
  shape: Shape | undefined;
  items: Slot | undefined;
}

const newSlot = (): Slot => ({ shape: undefined, items: undefined });

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function shapeOf(keys: readonly string[], volatile: VolatileTrie): Shape {
  const sorted = keys.map((_, i) => i).sort((a, b) => byCodeUnits(keys[a] as string, keys[b] as string));
  const order: number[] = [];
  const texts: string[] = [];
  const rules: VolatileTrie[] = [];
  const slots: Slot[] = [];
  for (const i of sorted) {
    const key = keys[i] as string;
    const rule = volatile.get(key);
    if (rule === true) continue;
    order.push(i);
    texts.push(`${JSON.stringify(key)}:`);
    rules.push(rule ?? EMPTY);
    slots.push(newSlot());
  }
  return { keys, order, texts, rules, slots };
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A string JSON writes as is between quotes: only characters from U+0020 up,
 * except `"`, `\` and surrogates (JSON.stringify escapes a lone one; a
 * well-formed pair is left to it too).
 */
const PLAIN = /^[\u0020\u0021\u0023-\u005b\u005d-\ud7ff\ue000-\uffff]*$/;

function write(value: unknown, volatile: VolatileTrie, slot: Slot): string {
  let v = value;
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    v = (v as { toJSON(): unknown }).toJSON();
  }
  switch (typeof v) {
    case 'string':
      return PLAIN.test(v) ? `"${v}"` : JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('a bigint is not JSON');
    case 'object':
      break;
    default:
      return 'null';
  }
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    slot.items ??= newSlot();
    let text = '[';
    for (let i = 0; i < v.length; i++) {
      if (i > 0) text += ',';
      const item: unknown = v[i];
      text +=
        item === undefined || typeof item === 'function' || typeof item === 'symbol'
          ? 'null'
          : write(item, volatile, slot.items);
    }
    return `${text}]`;
  }
  const record = v as Record<string, unknown>;
  const keys = Object.keys(record);
  let shape = slot.shape;
  if (shape === undefined || !sameKeys(shape.keys, keys)) {
    shape = shapeOf(keys, volatile);
    slot.shape = shape;
  }
  const { order, texts, rules, slots } = shape;
  let text = '{';
  for (let j = 0; j < order.length; j++) {
    const item = record[keys[order[j] as number] as string];
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    if (text.length > 1) text += ',';
    text += (texts[j] as string) + write(item, rules[j] as VolatileTrie, slots[j] as Slot);
  }
  return `${text}}`;
}

/** Writes the canonical JSON text of a value; see {@link canonicalizer}. */
export type Canonicalize = (value: unknown) => string;

/**
 * A canonical JSON writer for values that share their shapes (the records of
 * one entity): object keys sorted, the volatile fields left out. It remembers
 * the shapes it met, so keep one per sync table. Throws a `TypeError` for a
 * value JSON cannot represent (a bigint).
 *
 * @example
 * ```ts
 * const canonical = canonicalizer(['fetched_at']);
 * canonical({ b: 1, a: { z: 1, y: 2 }, fetched_at: 'now' }); // '{"a":{"y":2,"z":1},"b":1}'
 * ```
 */
export function canonicalizer(volatilePaths: readonly string[] = []): Canonicalize {
  const volatile = compileVolatile(volatilePaths);
  const root = newSlot();
  return (value) => write(value, volatile, root);
}

/**
 * The canonical JSON text of one value: object keys sorted, volatile fields
 * left out. For many records, {@link canonicalizer} is faster.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: { z: 1, y: 2 } }); // '{"a":{"y":2,"z":1},"b":1}'
 * ```
 */
export function canonicalJson(value: unknown, volatilePaths: readonly string[] = []): string {
  return canonicalizer(volatilePaths)(value);
}

type NodeCrypto = typeof import('node:crypto');

// node:crypto when the runtime exposes built-ins without a static import
// (Node >= 22.3, Bun, Deno); Web Crypto elsewhere. Both give the same SHA-256.
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;

/**
 * SHA-256 (hex) of a text's UTF-8 bytes, synchronously; `undefined` where the
 * runtime has no node:crypto (Workers). Uses the one-shot `hash()` where it
 * exists (Node >= 21.7), which skips the Hash object of `createHash`.
 */
export const sha256HexSync: ((text: string) => string) | undefined = !nodeCrypto
  ? undefined
  : typeof nodeCrypto.hash === 'function'
    ? (text) => nodeCrypto.hash('sha256', text, 'hex')
    : (text) => nodeCrypto.createHash('sha256').update(text, 'utf8').digest('hex');

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
  if (sha256HexSync) return texts.map(sha256HexSync);
  return Promise.all(
    texts.map(async (t) => toHex(await globalThis.crypto.subtle.digest('SHA-256', encoder.encode(t)))),
  );
}
