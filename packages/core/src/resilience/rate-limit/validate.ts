/**
 * Checks shared by the limiters and `batch`: option values, the options every
 * limiter takes, and each call's arguments. Every failure is a
 * `RateLimitError`: `invalid_options` at construction, `invalid_argument` on
 * a call.
 * @internal
 */
import type { ResilienceEventHandler, ScheduleOptions } from '../types';
import { abortedError, RateLimitError } from './errors';

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

/** Throws `invalid_options` unless `value` is a boolean or undefined; returns it, or `fallback`. */
export function optionalBoolean(api: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new RateLimitError(api, 'invalid_options', `${name} must be a boolean, got ${typeof value}`);
  }
  return value;
}

/** Throws `invalid_options` for an option name outside `known` (a misspelt option would otherwise be ignored). */
export function rejectUnknownOptions(api: string, options: Record<string, unknown>, known: Iterable<string>): void {
  const names = new Set(known);
  for (const name of Object.keys(options)) {
    if (!names.has(name)) throw new RateLimitError(api, 'invalid_options', `unknown option "${name}"`);
  }
}

/** Defaults of the options both limiters take (`BaseRateLimiterOptions`, documented in ../types). */
export const SHARED_DEFAULTS = {
  interval: 1000,
  concurrency: Number.POSITIVE_INFINITY,
  maxQueued: 10_000,
  defaultKey: 'default',
  pauseOn429: 1000,
  maxPause: 300_000,
  holdUntilSettled: true,
} as const;

/** The options both limiters take, checked, with defaults applied (`interval` is each limiter's own: see its rules). */
export interface SharedLimiterConfig {
  concurrency: number;
  maxQueued: number;
  defaultKey: string;
  pauseOn429: number;
  maxPause: number;
  holdUntilSettled: boolean;
  onEvent: ResilienceEventHandler | undefined;
}

/** Checks the options both limiters take and applies their defaults. */
export function sharedLimiterOptions(api: string, o: Record<string, unknown>): SharedLimiterConfig {
  return {
    concurrency: positiveInteger(api, 'concurrency', o.concurrency ?? SHARED_DEFAULTS.concurrency, true),
    maxQueued: positiveInteger(api, 'maxQueued', o.maxQueued ?? SHARED_DEFAULTS.maxQueued, true),
    defaultKey: nonEmptyString(api, 'defaultKey', o.defaultKey ?? SHARED_DEFAULTS.defaultKey),
    pauseOn429: positiveNumber(api, 'pauseOn429', o.pauseOn429 ?? SHARED_DEFAULTS.pauseOn429, false),
    maxPause: positiveNumber(api, 'maxPause', o.maxPause ?? SHARED_DEFAULTS.maxPause, false),
    holdUntilSettled: optionalBoolean(api, 'holdUntilSettled', o.holdUntilSettled, SHARED_DEFAULTS.holdUntilSettled),
    onEvent: optionalFunction<ResilienceEventHandler>(api, 'onEvent', o.onEvent),
  };
}

/** Per-call options, checked on every call: the reason lies with the caller, so the code is `invalid_argument`. */
export interface CallOptions {
  key: string;
  weight: number;
  priority: number;
  signal: AbortSignal | undefined;
  /** The call's own bound on its wait, Infinity when it has none. */
  maxWait: number;
}

/** A limiter's reusable holder of one call's options (filled by {@link admitCall}, so calls allocate nothing). */
export function callOptions(defaultKey: string): CallOptions {
  return { key: defaultKey, weight: 1, priority: 0, signal: undefined, maxWait: Number.POSITIVE_INFINITY };
}

/** Reads and checks one call's options; the fast path (no options) allocates nothing. */
function readCallOptions(api: string, options: unknown, defaultKey: string, out: CallOptions): CallOptions {
  out.key = defaultKey;
  out.weight = 1;
  out.priority = 0;
  out.signal = undefined;
  out.maxWait = Number.POSITIVE_INFINITY;
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
  if (o.maxWait !== undefined) {
    if (typeof o.maxWait !== 'number' || !(o.maxWait >= 0)) {
      throw new RateLimitError(
        api,
        'invalid_argument',
        `maxWait must be a number of milliseconds ≥ 0, got ${describe(o.maxWait)}`,
        { key: out.key },
      );
    }
    out.maxWait = o.maxWait;
  }
  return out;
}

/**
 * Admits one `schedule` call: checks `fn` and the call's options (into `out`,
 * so a call without options allocates nothing), then refuses a call to a
 * closed limiter (`closed`) or one whose signal has already aborted
 * (`aborted`). Returns the refusal instead of throwing it, since `schedule`
 * rejects rather than throws.
 */
export function admitCall(
  api: string,
  fn: unknown,
  options: ScheduleOptions | undefined,
  defaultKey: string,
  closed: boolean,
  out: CallOptions,
): CallOptions | RateLimitError {
  if (typeof fn !== 'function') {
    return new RateLimitError(api, 'invalid_argument', `fn must be a function, got ${typeof fn}`);
  }
  let call: CallOptions;
  try {
    call = readCallOptions(api, options, defaultKey, out);
  } catch (error) {
    return error as RateLimitError;
  }
  if (closed) return new RateLimitError(api, 'closed', 'the limiter is closed', { key: call.key });
  if (call.signal?.aborted) return abortedError(api, call.key, call.signal);
  return call;
}

/** Throws `invalid_argument` unless `key` is a non-empty string and `ms` a duration ≥ 0 (the arguments of `pause`). */
export function checkPause(api: string, key: unknown, ms: unknown): void {
  if (typeof key !== 'string' || key === '') {
    throw new RateLimitError(api, 'invalid_argument', 'pause needs a non-empty key');
  }
  if (typeof ms !== 'number' || !(ms >= 0)) {
    throw new RateLimitError(api, 'invalid_argument', `pause needs a duration ≥ 0 in ms, got ${String(ms)}`, { key });
  }
}
