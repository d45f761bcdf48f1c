/**
 * The geocode cache's key: a request reduced to what changes Google's
 * answer, in one canonical text, hashed.
 *
 * - Text (the address, component values): Unicode NFKC, case folded
 *   (lower case, plus the full folds `ß`/`ẞ` → `ss` and final `ς` → `σ`),
 *   whitespace trimmed and collapsed, none before a comma and one after it.
 *   `"  1600 AMPHITHEATRE Pkwy ,Mountain View"` and
 *   `"1600 amphitheatre pkwy, mountain view"` share a key.
 * - `components`: as pairs `type:value` (from an object, or Google's
 *   `a:b|c:d` text), types lower-cased, values folded like text, sorted.
 * - `region` and `language` (BCP 47 tags are case-insensitive): trimmed, lower-cased.
 * - `bounds`: corners rounded to 7 decimals (~1 cm).
 * - Reverse geocoding (`latlng`): rounded to {@link REVERSE_DECIMALS} decimals
 *   (~1.1 m at the equator, less elsewhere), and the rounded point is what is
 *   sent, so the cached answer is exactly the answer for its key. Finer
 *   differences are below what an address can tell apart.
 * - Place ids are case-sensitive: kept as given (trimmed).
 * - `result_type` / `location_type` filters of reverse geocoding: sorted sets.
 *
 * The text starts with a version (`v1`): a change to these rules is a new
 * version, so old rows are never read under a new meaning.
 */

import { GoogleMapsUsageError } from './errors';
import {
  type ForwardGeocodeRequest,
  type GeocodeRequest,
  type LatLng,
  type LatLngBounds,
  MAX_ADDRESS,
  normalizeText,
  type PlaceGeocodeRequest,
  type ReverseGeocodeRequest,
} from './geocoding';

/** Any request the geocode cache takes: the client's requests, or a bare string for an address. */
export type GeocodeCacheRequest = string | GeocodeRequest;

/** A request after normalization: what is sent, and its key. */
export interface NormalizedGeocodeRequest {
  /** Which kind of lookup. */
  kind: 'address' | 'latlng' | 'place';
  /** The request to send: the caller's own text, with a rounded point for reverse geocoding. */
  request: GeocodeRequest;
  /** The canonical text the key hashes (kept for debugging; never stored). */
  canonical: string;
  /** SHA-256 (hex) of `canonical`, prefixed with the rules' version: the store's key. */
  key: string;
}

/** Decimals a reverse-geocoding point is rounded to. */
export const REVERSE_DECIMALS = 5;
const BOUNDS_DECIMALS = 7;
const VERSION = 'v1';

/**
 * Folds a text for the cache key: NFKC, case folded, whitespace collapsed
 * (`'  Straße 1 ,BERLIN '` → `'strasse 1, berlin'`).
 */
export function foldText(text: string): string {
  let s = text.normalize('NFKC').toLowerCase();
  if (/[ßẞς]/.test(s)) s = s.replace(/[ßẞ]/g, 'ss').replace(/ς/g, 'σ');
  return s.replace(/\s+/g, ' ').replace(/ ?, ?/g, ', ').trim();
}

function roundTo(value: number, decimals: number): number {
  const f = 10 ** decimals;
  const r = Math.round(value * f) / f;
  return Object.is(r, -0) ? 0 : r;
}

function invalid(message: string): GoogleMapsUsageError {
  return new GoogleMapsUsageError('geocodeCache', 'invalid_params', message);
}

function optionalTag(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${name} must be a non-empty string`);
  return value.trim().toLowerCase();
}

function point(name: string, value: unknown, decimals: number): LatLng {
  const p = value as Partial<LatLng> | null;
  if (
    p === null ||
    typeof p !== 'object' ||
    typeof p.lat !== 'number' ||
    typeof p.lng !== 'number' ||
    !Number.isFinite(p.lat) ||
    !Number.isFinite(p.lng) ||
    Math.abs(p.lat) > 90 ||
    Math.abs(p.lng) > 180
  ) {
    throw invalid(`${name} must be { lat, lng } with lat in [-90, 90] and lng in [-180, 180]`);
  }
  return { lat: roundTo(p.lat, decimals), lng: roundTo(p.lng, decimals) };
}

function components(value: unknown): string[] {
  const pairs: string[] = [];
  const add = (type: string, v: unknown) => {
    if (typeof v !== 'string') throw invalid(`components.${type} must be a string`);
    const t = type.trim().toLowerCase();
    const folded = foldText(v);
    if (t === '' || folded === '')
      throw invalid(`components must be type:value pairs, got ${JSON.stringify(`${type}:${v}`)}`);
    pairs.push(`${t}:${folded}`);
  };
  if (typeof value === 'string') {
    for (const part of value.split('|')) {
      if (part.trim() === '') continue;
      const at = part.indexOf(':');
      if (at < 0) throw invalid(`components must be type:value pairs, got ${JSON.stringify(part)}`);
      add(part.slice(0, at), part.slice(at + 1));
    }
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [type, v] of Object.entries(value)) {
      if (Array.isArray(v)) for (const one of v) add(type, one);
      else if (v !== undefined) add(type, v);
    }
  } else {
    throw invalid('components must be an object such as { country: "FR" } or a type:value|type:value text');
  }
  if (pairs.length === 0) throw invalid('components must hold at least one type:value pair');
  return pairs.sort();
}

function stringSet(name: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? value.split('|') : value;
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string' || v.trim() === '')) {
    throw invalid(`${name} must be a non-empty string or an array of them`);
  }
  return [...new Set((list as string[]).map((v) => v.trim().toUpperCase()))].sort();
}

type NodeCrypto = typeof import('node:crypto');
// node:crypto where the runtime exposes built-ins (Node >= 22.3, Deno, Bun), a
// pure SHA-256 elsewhere (Workers): the key must be computed synchronously.
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;

const sha256Hex: (text: string) => string = !nodeCrypto
  ? sha256HexPure
  : typeof nodeCrypto.hash === 'function'
    ? (text) => nodeCrypto.hash('sha256', text, 'hex')
    : (text) => nodeCrypto.createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * Normalizes a geocoding request and computes its cache key.
 *
 * @throws GoogleMapsUsageError (`invalid_params`) for a request Google would refuse
 *   (no address, components, point or place id; a point out of range; an empty string).
 *
 * @example
 * ```ts
 * import { normalizeGeocodeRequest } from '@ballast/google-maps';
 * const a = normalizeGeocodeRequest('10 Downing St,  LONDON');
 * const b = normalizeGeocodeRequest({ address: '10 downing st, london' });
 * a.key === b.key; // true
 * ```
 */
export function normalizeGeocodeRequest(input: GeocodeCacheRequest): NormalizedGeocodeRequest {
  if (typeof input === 'string') input = { address: input };
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw invalid('a request must be an address string or an object with address, components, latlng or placeId');
  }
  const r = input as ForwardGeocodeRequest & Partial<ReverseGeocodeRequest> & Partial<PlaceGeocodeRequest>;
  const language = optionalTag('language', r.language);
  const region = optionalTag('region', r.region);
  const given = [
    r.address !== undefined || r.components !== undefined,
    r.latlng !== undefined,
    r.placeId !== undefined,
  ];
  if (given.filter(Boolean).length !== 1) {
    throw invalid('a request needs exactly one of: address (and/or components), latlng, placeId');
  }
  let kind: NormalizedGeocodeRequest['kind'];
  let parts: unknown[];
  let request: NormalizedGeocodeRequest['request'];
  if (r.placeId !== undefined) {
    if (typeof r.placeId !== 'string' || r.placeId.trim() === '') throw invalid('placeId must be a non-empty string');
    kind = 'place';
    const placeId = r.placeId.trim();
    parts = [placeId];
    request = { placeId, ...defined({ language: r.language, region: r.region }) };
  } else if (r.latlng !== undefined) {
    kind = 'latlng';
    const latlng = point('latlng', r.latlng, REVERSE_DECIMALS);
    const resultType = stringSet('resultType', r.resultType);
    const locationType = stringSet('locationType', r.locationType);
    parts = [latlng.lat, latlng.lng, resultType ?? null, locationType ?? null];
    request = {
      latlng,
      ...defined({ language: r.language, region: r.region, resultType: r.resultType, locationType: r.locationType }),
    };
  } else {
    kind = 'address';
    let address: string | null = null;
    if (r.address !== undefined) {
      if (typeof r.address !== 'string') throw invalid('address must be a string');
      address = foldText(r.address);
      if (address === '') throw invalid('address must not be empty');
      // the client would refuse it unsent: refused here, before the store is read
      if (normalizeText(r.address).length > MAX_ADDRESS)
        throw invalid(`address must be at most ${MAX_ADDRESS} characters`);
    }
    const filters = r.components === undefined ? null : components(r.components);
    let bounds: [number, number, number, number] | null = null;
    if (r.bounds !== undefined) {
      const b = r.bounds as Partial<LatLngBounds> | null;
      if (b === null || typeof b !== 'object') throw invalid('bounds must be { southwest, northeast }');
      const sw = point('bounds.southwest', b.southwest, BOUNDS_DECIMALS);
      const ne = point('bounds.northeast', b.northeast, BOUNDS_DECIMALS);
      bounds = [sw.lat, sw.lng, ne.lat, ne.lng];
    }
    parts = [address, filters, bounds];
    request = {
      ...defined({
        address: r.address,
        components: r.components,
        bounds: r.bounds,
        language: r.language,
        region: r.region,
      }),
    };
  }
  const canonical = JSON.stringify([VERSION, kind, ...parts, language ?? null, region ?? null]);
  return { kind, request, canonical, key: `${VERSION}:${sha256Hex(canonical)}` };
}

function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

// SHA-256 for runtimes without node:crypto (FIPS 180-4), over the text's UTF-8 bytes.
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** @internal exported for the test that checks it against node:crypto */
export function sha256HexPure(text: string): string {
  const bytes = new TextEncoder().encode(text);
  const bitLength = bytes.length * 8;
  const padded = new Uint8Array((((bytes.length + 9 + 63) >> 6) << 6) >>> 0);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 2 ** 32));
  view.setUint32(padded.length - 4, bitLength >>> 0);
  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Uint32Array(64);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15] as number;
      const b = w[i - 2] as number;
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = ((w[i - 16] as number) + s0 + (w[i - 7] as number) + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h as unknown as [number, number, number, number, number, number, number, number];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + (K[i] as number) + (w[i] as number)) >>> 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) >>> 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] = ((h[0] as number) + a) >>> 0;
    h[1] = ((h[1] as number) + b) >>> 0;
    h[2] = ((h[2] as number) + c) >>> 0;
    h[3] = ((h[3] as number) + d) >>> 0;
    h[4] = ((h[4] as number) + e) >>> 0;
    h[5] = ((h[5] as number) + f) >>> 0;
    h[6] = ((h[6] as number) + g) >>> 0;
    h[7] = ((h[7] as number) + hh) >>> 0;
  }
  let out = '';
  for (const word of h) out += word.toString(16).padStart(8, '0');
  return out;
}
