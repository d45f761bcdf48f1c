/**
 * The contract every cache store implements (memory, SQL, Redis), and the
 * entry they keep: a response's status, headers and body.
 */

/** A stored response. */
export interface CachedResponse {
  status: number;
  statusText: string;
  /** Header pairs, in order. */
  headers: Array<[string, string]>;
  body: Uint8Array;
  /** When the response was stored, in epoch milliseconds. */
  storedAt: number;
  /**
   * A SHA-256 of the request's values for the headers the response's `Vary`
   * names ('' when it names none). A later request under the same key is
   * answered from this entry only when its own values hash the same.
   */
  variant: string;
}

/** Where the cache layer keeps responses. Stores never judge freshness: the cache layer does. */
export interface CacheStore {
  /** The entry under `key`, or undefined when there is none (or it has outlived its retention). */
  get(key: string): Promise<CachedResponse | undefined>;
  /** Stores `entry` under `key`, to be kept for at least `retainMs` and dropped some time after. */
  set(key: string, entry: CachedResponse, retainMs: number): Promise<void>;
  /** Removes the entry under `key`, if any. */
  delete(key: string): Promise<void>;
}

/** Encodes bytes as base64, on any runtime. @internal */
export function toBase64(bytes: Uint8Array): string {
  const B = (globalThis as { Buffer?: typeof Buffer }).Buffer;
  if (B !== undefined) return B.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Decodes base64 to bytes, on any runtime. @internal */
export function fromBase64(text: string): Uint8Array {
  const B = (globalThis as { Buffer?: typeof Buffer }).Buffer;
  if (B !== undefined) return new Uint8Array(B.from(text, 'base64'));
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
