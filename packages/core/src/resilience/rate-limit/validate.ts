import { RateLimitError } from './errors';

/** Validation helpers shared by the limiter factories. @internal */

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  return typeof value;
}

/** Throws `invalid_options` unless `value` is a number above zero (Infinity allowed when `allowInfinity`). */
export function positiveNumber(api: string, name: string, value: unknown, allowInfinity: boolean): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw new RateLimitError(
      api,
      'invalid_options',
      `${name} must be a number above 0${allowInfinity ? ' (or Infinity)' : ''}, got ${describe(value)}`,
    );
  }
  return value;
}

/** Throws `invalid_options` unless `value` is a whole number ≥ 1 (or Infinity when `allowInfinity`). */
export function positiveInteger(api: string, name: string, value: unknown, allowInfinity: boolean): number {
  const n = positiveNumber(api, name, value, allowInfinity);
  if (Number.isFinite(n) && !Number.isInteger(n)) {
    throw new RateLimitError(api, 'invalid_options', `${name} must be a whole number, got ${n}`);
  }
  return n;
}

/** Throws `invalid_options` unless `value` is a non-empty string. */
export function nonEmptyString(api: string, name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new RateLimitError(api, 'invalid_options', `${name} must be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

/** Throws `invalid_options` unless `value` is a function or undefined. */
export function optionalFunction<F>(api: string, name: string, value: unknown): F | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new RateLimitError(api, 'invalid_options', `${name} must be a function, got ${describe(value)}`);
  }
  return value as F | undefined;
}

/** Throws `invalid_options` unless `options` is an object (or undefined where allowed). */
export function optionsObject(api: string, options: unknown, required: boolean): Record<string, unknown> {
  if (options === undefined && !required) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new RateLimitError(api, 'invalid_options', `options must be an object, got ${describe(options)}`);
  }
  return options as Record<string, unknown>;
}

/** Per-call options, checked on every call: the reason lies with the caller, so the code is `invalid_argument`. */
export interface CallOptions {
  key: string;
  weight: number;
  priority: number;
  signal: AbortSignal | undefined;
}

/** Reads and checks one call's options; the fast path (no options) allocates nothing. */
export function readCallOptions(api: string, options: unknown, defaultKey: string, out: CallOptions): CallOptions {
  out.key = defaultKey;
  out.weight = 1;
  out.priority = 0;
  out.signal = undefined;
  if (options === undefined) return out;
  if (typeof options !== 'object' || options === null) {
    throw new RateLimitError(api, 'invalid_argument', `schedule options must be an object, got ${describe(options)}`);
  }
  const o = options as Record<string, unknown>;
  if (o.key !== undefined) {
    if (typeof o.key !== 'string' || o.key === '') {
      throw new RateLimitError(api, 'invalid_argument', `key must be a non-empty string, got ${describe(o.key)}`);
    }
    out.key = o.key;
  }
  if (o.weight !== undefined) {
    if (typeof o.weight !== 'number' || !(o.weight > 0) || !Number.isFinite(o.weight)) {
      throw new RateLimitError(
        api,
        'invalid_argument',
        `weight must be a finite number above 0, got ${describe(o.weight)}`,
        {
          key: out.key,
        },
      );
    }
    out.weight = o.weight;
  }
  if (o.priority !== undefined) {
    if (typeof o.priority !== 'number' || !Number.isFinite(o.priority)) {
      throw new RateLimitError(
        api,
        'invalid_argument',
        `priority must be a finite number, got ${describe(o.priority)}`,
        {
          key: out.key,
        },
      );
    }
    out.priority = o.priority;
  }
  if (o.signal !== undefined) {
    if (!(o.signal instanceof AbortSignal)) {
      throw new RateLimitError(api, 'invalid_argument', `signal must be an AbortSignal, got ${describe(o.signal)}`, {
        key: out.key,
      });
    }
    out.signal = o.signal;
  }
  return out;
}
