import { EventEmitter } from 'node:events';
import OpossumBreaker from 'opossum';
import { checkFunction, checkNumber, checkOptions, ResilienceError } from './errors';
import { definedOnly, emitter, isNetworkError } from './internal';
import type { ResilienceEventHandler } from './types';

/** The state of one breaker. */
export type BreakerState = 'closed' | 'open' | 'half_open';

/** What one call through a breaker ended with, as shown to `isFailure`. */
export type BreakerOutcome = { response: Response; error?: undefined } | { error: unknown; response?: undefined };

/** Options of {@link circuitBreaker}. */
export interface CircuitBreakerOptions {
  /**
   * Open after this many failures in a row. At least 2: one failure never opens a breaker.
   * @default 5
   */
  failureThreshold?: number;
  /**
   * Also open when the failure fraction over the rolling window exceeds this (0 < rate <= 1)...
   * @default 0.5
   */
  errorRate?: number;
  /**
   * ...once the window holds at least this many calls. At least 2.
   * @default 20
   */
  minimumVolume?: number;
  /**
   * Length of the rolling window, in milliseconds (ten buckets).
   * @default 10_000
   */
  windowMs?: number;
  /**
   * How long an open breaker fails fast before it lets one probe through (half-open).
   * @default 30_000
   */
  cooldownMs?: number;
  /**
   * Which outcomes mean the provider is unhealthy and count against it.
   * @default a 5xx response, a per-attempt `timeout`, or a network error; never a 4xx, the caller's own abort, or another layer's refusal
   */
  isFailure?: (outcome: BreakerOutcome) => boolean;
  /**
   * A breaker unused for this long (and not open) is dropped, timers and all.
   * @default 300_000
   */
  idleMs?: number;
  /** Receives `breaker.open`, `breaker.half_open`, `breaker.close` and `breaker.reject` events. */
  onEvent?: ResilienceEventHandler;
}

/** Options of one {@link CircuitBreakers.execute} call. */
export interface BreakerCallOptions {
  /** The caller's signal, handed to `fn`. Aborting it aborts this call only, and the abort does not count as a failure. */
  signal?: AbortSignal;
}

/** A breaker's state as a health check reads it. */
export interface BreakerHealth {
  key: string;
  state: BreakerState;
  /** Failures in a row so far. */
  consecutiveFailures: number;
  /** Milliseconds until an open breaker lets a probe through; 0 otherwise. */
  retryInMs: number;
}

/**
 * A registry of circuit breakers, one per key (a provider, a host, an
 * endpoint group), created on first use and dropped when idle.
 */
export interface CircuitBreakers {
  /**
   * Runs `fn` through the breaker of `key`. Rejects at once with a
   * `ResilienceError` of code `circuit_open` while that breaker is open. A
   * `Response` that `isFailure` judges a failure is counted and still returned.
   */
  execute<T>(key: string, fn: (signal?: AbortSignal) => Promise<T>, options?: BreakerCallOptions): Promise<T>;
  /** The state of `key`'s breaker (`closed` when it has none). */
  state(key: string): BreakerState;
  /** Every live breaker's state, for a health endpoint. */
  health(): BreakerHealth[];
  /** How many breakers are alive. */
  readonly size: number;
  /** Shuts every breaker down and releases all timers. */
  close(): void;
}

const DEFAULTS = {
  failureThreshold: 5,
  errorRate: 0.5,
  minimumVolume: 20,
  windowMs: 10_000,
  cooldownMs: 30_000,
  idleMs: 300_000,
  isFailure: defaultIsFailure,
} satisfies Omit<Required<CircuitBreakerOptions>, 'onEvent'>;

const BUCKETS = 10;

/** The default failure rule: 5xx, per-attempt timeouts and network errors count; 4xx, aborts and Ballast layers' refusals do not. */
export function defaultIsFailure(outcome: BreakerOutcome): boolean {
  return outcome.response !== undefined ? outcome.response.status >= 500 : isNetworkError(outcome.error);
}

/** Carries a failed `Response` through opossum, which only counts rejections. */
class CountedResponse {
  constructor(readonly response: Response) {}
}

type Action = (fn: (signal?: AbortSignal) => Promise<unknown>, signal?: AbortSignal) => Promise<unknown>;

interface Entry {
  breaker: OpossumBreaker<Parameters<Action>, unknown>;
  state: BreakerState;
  consecutive: number;
  openedAt: number;
  lastUsed: number;
  inFlight: number;
}

/**
 * Builds a registry of circuit breakers (opossum underneath).
 *
 * A breaker opens after `failureThreshold` failures in a row, or when more
 * than `errorRate` of at least `minimumVolume` calls in the rolling window
 * failed. Open, it fails fast for `cooldownMs`, then lets one probe through:
 * success closes it, failure opens it again.
 *
 * @example
 * ```ts
 * const breakers = circuitBreaker({ failureThreshold: 5, cooldownMs: 30_000 });
 * const fetch = resilientFetch({ breaker: breakers });
 * const health = Response.json(breakers.health()); // what a /health route can return
 * ```
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakers {
  const api = 'circuitBreaker';
  checkOptions(api, options);
  const o = { ...DEFAULTS, ...definedOnly(options) };
  checkNumber(api, 'failureThreshold', o.failureThreshold, 2);
  checkNumber(api, 'errorRate', o.errorRate, Number.MIN_VALUE, 1);
  checkNumber(api, 'minimumVolume', o.minimumVolume, 2);
  checkNumber(api, 'windowMs', o.windowMs, BUCKETS);
  checkNumber(api, 'cooldownMs', o.cooldownMs, 1, 2_147_483_647);
  checkNumber(api, 'idleMs', o.idleMs, 1);
  checkFunction(api, 'isFailure', o.isFailure);
  checkFunction(api, 'onEvent', options.onEvent);
  const emit = emitter(options.onEvent);
  const isFailure = o.isFailure;
  const entries = new Map<string, Entry>();

  // One timer for the whole registry, alive only while it holds breakers: it
  // rotates every breaker's rolling window and drops idle breakers.
  const rotate = new EventEmitter();
  rotate.setMaxListeners(0);
  let ticker: ReturnType<typeof setInterval> | undefined;
  const tick = () => {
    rotate.emit('rotate');
    const now = Date.now();
    for (const [key, e] of entries) {
      if (e.inFlight === 0 && e.state !== 'open' && now - e.lastUsed >= o.idleMs) {
        e.breaker.shutdown();
        entries.delete(key);
      }
    }
    if (entries.size === 0 && ticker !== undefined) {
      clearInterval(ticker);
      ticker = undefined;
    }
  };

  const action: Action = (fn, signal) =>
    fn(signal).then((result) => {
      if (result instanceof Response && isFailure({ response: result })) throw new CountedResponse(result);
      return result;
    });

  const retryIn = (e: Entry) => (e.state === 'open' ? Math.max(0, e.openedAt + o.cooldownMs - Date.now()) : 0);

  const create = (key: string): Entry => {
    const holder: { entry?: Entry } = {};
    /** True when opossum should not count an error (it then reports a success). */
    const errorFilter = (error: unknown, _fn?: unknown, signal?: AbortSignal): boolean => {
      if (error instanceof CountedResponse) return false;
      // The caller's own abort says nothing about the provider, except during the probe:
      // an aborted probe proved nothing, so the breaker opens again rather than closing.
      if (signal?.aborted === true) return holder.entry?.state !== 'half_open';
      return !isFailure({ error });
    };
    const status = leanStatus(o.windowMs, rotate);
    const breaker = new OpossumBreaker<Parameters<Action>, unknown>(action, {
      status,
      name: key,
      timeout: false,
      resetTimeout: o.cooldownMs,
      errorThresholdPercentage: o.errorRate * 100,
      volumeThreshold: o.minimumVolume,
      errorFilter,
    });
    const e: Entry = { breaker, state: 'closed', consecutive: 0, openedAt: 0, lastUsed: Date.now(), inFlight: 0 };
    holder.entry = e;
    const change = (to: BreakerState) => {
      const from = e.state;
      if (from === to) return;
      e.state = to;
      if (to === 'open') e.openedAt = Date.now();
      if (to === 'closed') e.consecutive = 0;
      emit?.({
        type: to === 'open' ? 'breaker.open' : to === 'closed' ? 'breaker.close' : 'breaker.half_open',
        at: Date.now(),
        key,
        from,
      });
    };
    breaker.on('open', () => change('open'));
    breaker.on('halfOpen', () => change('half_open'));
    breaker.on('close', () => change('closed'));
    breaker.on('success', () => {
      e.consecutive = 0;
    });
    breaker.on('failure', () => {
      e.consecutive++;
      if (e.consecutive >= o.failureThreshold && e.state === 'closed') breaker.open();
    });
    breaker.on('reject', () => emit?.({ type: 'breaker.reject', at: Date.now(), key, retryInMs: retryIn(e) }));
    entries.set(key, e);
    ticker ??= setInterval(tick, o.windowMs / BUCKETS);
    if (typeof ticker === 'object' && 'unref' in ticker) ticker.unref();
    return e;
  };

  return {
    execute<T>(key: string, fn: (signal?: AbortSignal) => Promise<T>, call: BreakerCallOptions = {}): Promise<T> {
      const e = entries.get(key) ?? create(key);
      e.lastUsed = Date.now();
      e.inFlight++;
      return e.breaker.fire(fn, call.signal).then(
        (value) => {
          e.inFlight--;
          return value as T;
        },
        (error: unknown) => {
          e.inFlight--;
          if (error instanceof CountedResponse) return error.response as T;
          if (OpossumBreaker.isOurError(error as Error)) {
            throw new ResilienceError(api, 'circuit_open', `the circuit for ${JSON.stringify(key)} is open`, {
              key,
              waitMs: retryIn(e),
              cause: error,
            });
          }
          throw error;
        },
      );
    },
    state: (key) => entries.get(key)?.state ?? 'closed',
    health: () =>
      [...entries].map(([key, e]) => ({
        key,
        state: e.state,
        consecutiveFailures: e.consecutive,
        retryInMs: retryIn(e),
      })),
    get size() {
      return entries.size;
    },
    close() {
      for (const e of entries.values()) e.breaker.shutdown();
      entries.clear();
      if (ticker !== undefined) clearInterval(ticker);
      ticker = undefined;
    },
  };
}

/**
 * opossum's rolling window, minus the latency log: opossum's `Status` keeps
 * every call's latency in the current bucket even with percentiles off (a
 * number per call for the whole window). Counting is all the breaker needs,
 * so `increment` only counts.
 */
function leanStatus(windowMs: number, rotate: EventEmitter): OpossumBreaker.Status {
  const status = OpossumBreaker.newStatus({
    rollingCountBuckets: BUCKETS,
    rollingCountTimeout: windowMs,
    rollingPercentilesEnabled: false,
    enableSnapshots: false,
    rotateBucketController: rotate,
  });
  const windowKey = Object.getOwnPropertySymbols(status).find((s) => s.description === 'window');
  const buckets = windowKey === undefined ? undefined : (status as unknown as Record<symbol, unknown>)[windowKey];
  if (!Array.isArray(buckets)) return status; // an opossum without that field: keep its own increment
  const counts = buckets as Array<Record<string, number>>;
  (status as unknown as { increment(property: string): void }).increment = (property: string) => {
    const current = counts[0];
    if (current !== undefined) current[property] = (current[property] ?? 0) + 1;
  };
  return status;
}
