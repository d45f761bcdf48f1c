/**
 * Strict hex, base64 and UTF-8 helpers with no runtime dependency (no Buffer),
 * so the same code runs on Node, Deno, Bun and Workers. Decoders return
 * `undefined` on any malformed input instead of silently skipping characters.
 *
 * Internal to the package (no subpath exports it): the webhooks and the vault
 * share it.
 */

const HEX = '0123456789abcdef';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** char code -> value, -1 when not in the alphabet */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE[HEX.charCodeAt(i)] = i;
  HEX_VALUE[HEX.toUpperCase().charCodeAt(i)] = i;
}
const B64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_VALUE[B64.charCodeAt(i)] = i;

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    out += HEX.charAt(b >> 4) + HEX.charAt(b & 15);
  }
  return out;
}

/**
 * Decodes hex (either case) from `text`, or from `text.slice(start, end)` without slicing it;
 * `undefined` for an odd length or a non-hex character.
 */
export function fromHex(text: string, start = 0, end = text.length): Uint8Array | undefined {
  const length = end - start;
  if (length % 2 !== 0 || length < 0) return undefined;
  const out = new Uint8Array(length / 2);
  for (let i = start, j = 0; i < end; i += 2, j++) {
    const hi = text.charCodeAt(i);
    const lo = text.charCodeAt(i + 1);
    const h = hi < 128 ? (HEX_VALUE[hi] as number) : -1;
    const l = lo < 128 ? (HEX_VALUE[lo] as number) : -1;
    if (h < 0 || l < 0) return undefined;
    out[j] = (h << 4) | l;
  }
  return out;
}

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out += B64.charAt(n >> 18) + B64.charAt((n >> 12) & 63) + B64.charAt((n >> 6) & 63) + B64.charAt(n & 63);
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = (bytes[i] as number) << 16;
    out += `${B64.charAt(n >> 18)}${B64.charAt((n >> 12) & 63)}==`;
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    out += `${B64.charAt(n >> 18)}${B64.charAt((n >> 12) & 63)}${B64.charAt((n >> 6) & 63)}=`;
  }
  return out;
}

/**
 * Decodes standard base64 from `text`, or from `text.slice(start, stop)` without slicing it, with or
 * without its `=` padding. Any character
 * outside the alphabet, a misplaced `=`, an impossible length or non-zero
 * trailing bits (a non-canonical encoding) give `undefined`.
 */
export function fromBase64(text: string, start = 0, stop = text.length): Uint8Array | undefined {
  let end = stop;
  if ((end - start) % 4 === 0 && end > start) {
    if (text.charCodeAt(end - 1) === 61) end--;
    if (text.charCodeAt(end - 1) === 61) end--;
  }
  const length = end - start;
  if (length % 4 === 1 || length < 0) return undefined;
  const out = new Uint8Array((length * 3) >> 2);
  const full = start + length - (length % 4);
  let j = 0;
  // four characters make three bytes; a character outside the alphabet is -1, which keeps the sign
  // bit set whatever it is shifted by, so one sign check per quad catches it
  for (let i = start; i < full; i += 4) {
    const n = (sextet(text, i) << 18) | (sextet(text, i + 1) << 12) | (sextet(text, i + 2) << 6) | sextet(text, i + 3);
    if (n < 0) return undefined;
    out[j++] = n >> 16;
    out[j++] = (n >> 8) & 255;
    out[j++] = n & 255;
  }
  const rest = end - full;
  if (rest > 0) {
    const n =
      (sextet(text, full) << 18) | (sextet(text, full + 1) << 12) | (rest === 3 ? sextet(text, full + 2) << 6 : 0);
    if (n < 0) return undefined;
    // the unused low bits of the last character must be zero (a canonical encoding)
    if ((rest === 2 ? n & 0xffff : n & 0xff) !== 0) return undefined;
    out[j++] = n >> 16;
    if (rest === 3) out[j] = (n >> 8) & 255;
  }
  return out;
}

/** The 6-bit value of the base64 character at `i`, or -1 when it is not one. */
function sextet(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c < 128 ? (B64_VALUE[c] as number) : -1;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8 strictly; `undefined` for invalid sequences. A byte-order mark is kept, not stripped. */
export function fromUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The UTF-8 length of `text`, computed without allocating. */
export function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        length += 4;
        i++;
      } else length += 3;
    } else length += 3;
  }
  return length;
}

/** True when `text.slice(start, end)` is hex digits only (either case). */
export function isHex(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || (HEX_VALUE[c] as number) < 0) return false;
  }
  return true;
}

/**
 * True when `text.slice(start, end)` is the padded standard base64 of exactly `bytes` bytes
 * (alphabet characters, then the `=` padding that length requires).
 */
export function isPaddedBase64(text: string, start: number, end: number, bytes: number): boolean {
  const chars = Math.ceil((bytes * 4) / 3);
  if (end - start !== Math.ceil(bytes / 3) * 4) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const valid = i < start + chars ? c < 128 && (B64_VALUE[c] as number) >= 0 : c === 61;
    if (!valid) return false;
  }
  return true;
}

const SURROGATE = /[\ud800-\udfff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `text` with each lone surrogate replaced by U+FFFD: the text a database
 * stores for it, since every driver sends text as UTF-8 and UTF-8 has no
 * lone surrogates. Code that compares its own strings with what the database
 * returns must compare this form.
 */
export const wellFormed = (text: string): string =>
  SURROGATE.test(text) ? text.replace(LONE_SURROGATE, '\ufffd') : text;
