import { IdempotencyError, type SerializedError } from './errors';

/**
 * How results and cached errors are stored: JSON text of an envelope
 * (`{"v": result}`, or `{}` for `undefined`), so a replay returns a value equal
 * to the first call's. Values JSON would silently change are refused up front.
 */

/** Describes why `value` would not survive a JSON round trip unchanged, or returns `undefined` when it would. */
function unfaithful(value: unknown, path: string, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value} (JSON stores it as null)`;
    case 'object': {
      if (value === null) return undefined;
      if (seen.has(value)) return `${path} is a circular reference`;
      seen.add(value);
      try {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            const item: unknown = value[i];
            if (item === undefined) return `${path}[${i}] is undefined (JSON stores it as null)`;
            const why = unfaithful(item, `${path}[${i}]`, seen);
            if (why) return why;
          }
          return undefined;
        }
        const proto = Object.getPrototypeOf(value) as unknown;
        if (proto !== Object.prototype && proto !== null) {
          const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
          return `${path} is a ${kind} instance (only plain objects and arrays are stored)`;
        }
        for (const [k, v] of Object.entries(value)) {
          if (v === undefined) continue; // an absent property reads back as undefined too
          const why = unfaithful(v, `${path}.${k}`, seen);
          if (why) return why;
        }
        return undefined;
      } finally {
        seen.delete(value);
      }
    }
    default:
      return `${path} is a ${typeof value}`;
  }
}

/**
 * Encodes a result for storage.
 * @throws IdempotencyError `not_serializable` when JSON would not give the same value back.
 */
export function encodeResult(value: unknown, key: string): string {
  if (value === undefined) return '{}';
  const why = unfaithful(value, 'result', new Set());
  if (why) {
    throw new IdempotencyError(
      'idempotent',
      'not_serializable',
      `the result for key ${JSON.stringify(key)} cannot be stored: ${why}; return plain JSON data`,
      { key },
    );
  }
  return JSON.stringify({ v: value });
}

/** Decodes a stored result (the inverse of {@link encodeResult}). */
export function decodeResult(text: string): unknown {
  const envelope = JSON.parse(text) as { v?: unknown };
  return envelope.v;
}

/** Describes a thrown value as plain JSON data. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
    const e = error as { name?: unknown; message?: unknown; code?: unknown };
    const out: SerializedError = {
      name: typeof e.name === 'string' ? e.name : 'Error',
      message: String(e.message),
    };
    if (typeof e.code === 'string' || (typeof e.code === 'number' && Number.isFinite(e.code))) out.code = e.code;
    return out;
  }
  return { name: 'Error', message: String(error) };
}

/** Encodes a serialized error for storage. */
export function encodeError(error: SerializedError): string {
  return JSON.stringify({ v: error });
}

/** Decodes a stored error (the inverse of {@link encodeError}), tolerating malformed rows. */
export function decodeError(text: string | null): SerializedError {
  try {
    const v = text === null ? undefined : (JSON.parse(text) as { v?: Partial<SerializedError> }).v;
    const out: SerializedError = {
      name: typeof v?.name === 'string' ? v.name : 'Error',
      message: typeof v?.message === 'string' ? v.message : 'unknown error',
    };
    if (typeof v?.code === 'string' || typeof v?.code === 'number') out.code = v.code;
    return out;
  } catch {
    return { name: 'Error', message: 'unreadable cached error' };
  }
}
