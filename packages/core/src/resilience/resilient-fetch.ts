import type { Secret } from '../vault/secret';
import { type Cache, type CacheEngine, type CacheOptions, cacheEngine } from './cache';
import { type CircuitBreakerOptions, type CircuitBreakers, circuitBreaker } from './circuit-breaker';
import { checkFunction, checkNumber, ResilienceError } from './errors';
import { emitter, hostOf, methodOf, urlOf } from './internal';
import { type Retry, type RetryEngine, type RetryOptions, retryEngine } from './retry';
import { runWithTimeout } from './timeout';
import type { FetchLike, RateLimiter, ResilienceEventHandler } from './types';

/** A header value: a string, a vault `Secret` (revealed only when sent), or a function returning one (e.g. a refreshed token). */
export type HeaderSource = string | Secret | (() => string | Secret | Promise<string | Secret>);

/** The policy of {@link resilientFetch}: which layers to use and how. */
export interface ResilientFetchOptions {
  /**
   * The fetch to wrap.
   * @default the global fetch, looked up on each call
   */
  fetch?: FetchLike;
  /**
   * Overall time limit of one call, retries and waits included, in milliseconds.
   * @default none
   */
  deadlineMs?: number;
  /**
   * Stale-if-error cache: a `cache(...)` (to share its store) or its options. False for none.
   * @default false
   */
  cache?: Cache | CacheOptions | false;
  /**
   * Retry policy: a `retry(...)` or its options. False for none.
   * @default retry() (3 attempts, 500 ms base, 20 s cap, idempotent methods only)
   */
  retry?: Retry | RetryOptions | false;
  /**
   * Circuit breakers, one per key: a `circuitBreaker(...)` registry (share one
   * between fetches that call the same provider) or its options. False for none.
   * @default circuitBreaker() (5 failures in a row or 50% of 20 calls, 30 s cooldown)
   */
  breaker?: CircuitBreakers | CircuitBreakerOptions | false;
  /**
   * A rate limiter: `schedule` runs around each attempt, `observe` sees each response.
   * @default none
   */
  limiter?: RateLimiter;
  /**
   * Time limit of one attempt (until the response headers arrive), in milliseconds. False for none.
   * @default 30_000
   */
  timeoutMs?: number | false;
  /**
   * The group a request belongs to: one breaker, one retry budget and one limiter key per group.
   * @default the URL's host
   */
  key?: (url: string) => string;
  /**
   * Headers set on every request, e.g. `{ authorization: () => \`Bearer ${...}\` }` or a vault
   * `Secret`. Values are resolved once per call and revealed only into the outgoing request.
   * @default none
   */
  headers?: Record<string, HeaderSource>;
  /** Receives every decision of every layer this call builds (retry, wait, breaker change, stale serve, timeout). */
  onEvent?: ResilienceEventHandler;
}

/**
 * One attempt of a call as the inner layers pass it on, in arguments rather
 * than an object so the success path allocates nothing for it.
 */
type Layer = (
  input: string | URL | Request,
  init: RequestInit | undefined,
  key: string,
  signal: AbortSignal | undefined,
  deadlineAt: number,
) => Promise<Response>;

const DEFAULT_TIMEOUT_MS = 30_000;
const API = 'resilientFetch';

/**
 * Wraps a fetch in the resilience layers, outside in: deadline → cache
 * fallback → retry → circuit breaker → rate limiter → per-attempt timeout →
 * fetch. Every retry passes through the breaker and the limiter again. The
 * result has the signature of the global `fetch`.
 *
 * @example
 * ```ts
 * const fetch = resilientFetch({
 *   retry: { attempts: 4, generateIdempotencyKey: true },
 *   breaker: { failureThreshold: 5, cooldownMs: 30_000 },
 *   cache: { maxStaleMs: 3_600_000 },
 *   deadlineMs: 10_000,
 *   onEvent: (e) => console.log(e.type, e.key),
 * });
 * const res = await fetch('https://api.example.com/v1/items');
 * ```
 */
export function resilientFetch(options: ResilientFetchOptions = {}): FetchLike {
  if (typeof options !== 'object' || options === null) {
    throw new ResilienceError(API, 'invalid_options', 'the policy must be an object');
  }
  checkFunction(API, 'fetch', options.fetch);
  checkFunction(API, 'key', options.key);
  checkFunction(API, 'onEvent', options.onEvent);
  if (options.deadlineMs !== undefined) checkNumber(API, 'deadlineMs', options.deadlineMs, 1, 2_147_483_647);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (timeoutMs !== false) checkNumber(API, 'timeoutMs', timeoutMs, 1, 2_147_483_647);
  const limiter = options.limiter;
  if (limiter !== undefined && typeof limiter.schedule !== 'function') {
    throw new ResilienceError(API, 'invalid_options', 'limiter must implement schedule(fn, options)');
  }
  const onEvent = options.onEvent;
  const given = options.fetch;
  const fetchImpl: FetchLike = given ?? ((input, init) => globalThis.fetch(input, init));
  const keyOf = options.key ?? hostOf;
  const deadlineMs = options.deadlineMs;
  const headerSources = options.headers === undefined ? undefined : checkHeaders(options.headers);

  const retryLayer = buildRetry(options.retry);
  const cacheLayer = buildCache(options.cache);
  const breakers = buildBreaker(options.breaker, onEvent);
  const retryEmit = retryLayer === undefined ? undefined : emitter(retryLayer.emit, onEvent);
  const cacheEmit = cacheLayer === undefined ? undefined : emitter(cacheLayer.emit, onEvent);
  const timeoutEmit = emitter(onEvent);
  const observe = limiter?.observe === undefined ? undefined : limiter.observe.bind(limiter);

  /**
   * timeout → fetch, then the limiter learns from the response. One timer
   * covers both the per-attempt timeout and what is left of the deadline.
   */
  const timed: Layer = (input, init, key, signal, deadlineAt) => {
    const attemptMs = timeoutMs === false ? Number.POSITIVE_INFINITY : timeoutMs;
    const leftMs = deadlineAt - Date.now();
    let pending: Promise<Response>;
    if (leftMs <= 0) {
      pending = Promise.reject(
        new ResilienceError('deadline', 'deadline_exceeded', 'the deadline passed before the attempt could start', {
          key,
        }),
      );
    } else if (attemptMs === Number.POSITIVE_INFINITY && leftMs === Number.POSITIVE_INFINITY) {
      pending = fetchImpl(input, signal === init?.signal ? init : { ...init, signal: signal ?? null });
    } else {
      const deadlineFirst = leftMs < attemptMs;
      pending = runWithTimeout(
        (s) => fetchImpl(input, { ...init, signal: s }),
        Math.ceil(deadlineFirst ? leftMs : attemptMs),
        deadlineFirst ? 'deadline' : 'attempt',
        key,
        signal,
        timeoutEmit,
      );
    }
    return observe === undefined
      ? pending
      : pending.then((response) => {
          observe(response, key);
          return response;
        });
  };

  /** One attempt: breaker → limiter → timeout → fetch. */
  const attempt: Layer = (input, init, key, signal, deadlineAt) => {
    const limited =
      limiter === undefined
        ? (s?: AbortSignal) => timed(input, init, key, s, deadlineAt)
        : deadlineAt === Number.POSITIVE_INFINITY
          ? (s?: AbortSignal) =>
              limiter.schedule(
                (ls) => timed(input, init, key, ls ?? s, deadlineAt),
                s === undefined ? { key } : { key, signal: s },
              )
          : (s?: AbortSignal) =>
              scheduleBefore(limiter, deadlineAt, key, s, timeoutEmit, () => timed(input, init, key, s, deadlineAt));
    return breakers === undefined
      ? limited(signal)
      : breakers.execute(key, limited, signal === undefined ? {} : { signal });
  };

  const call = (
    input: string | URL | Request,
    init: RequestInit | undefined,
    url: string,
    method: string,
    key: string,
    signal: AbortSignal | undefined,
    deadlineAt: number,
  ): Promise<Response> => {
    const inner =
      retryLayer === undefined
        ? () => attempt(input, init, key, signal, deadlineAt)
        : () =>
            retryLayer.run({ input, init, method, url, key, deadlineAt, signal, emit: retryEmit }, (i, n) =>
              attempt(i, n, key, signal, deadlineAt),
            );
    if (cacheLayer === undefined) return inner();
    return cacheLayer.run({ input, init, method, url, group: key, emit: cacheEmit }, inner);
  };

  return async (input, init) => {
    if (headerSources !== undefined) init = await withHeaders(input, init, headerSources);
    const url = urlOf(input);
    const method = methodOf(input, init);
    const key = keyOf(url);
    const callerSignal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    if (deadlineMs === undefined) {
      return call(input, init, url, method, key, callerSignal, Number.POSITIVE_INFINITY);
    }
    // The deadline needs no timer of its own: attempts run under min(timeout, what is
    // left of it), a retry never starts a wait that would pass it, and a call held in a
    // limiter's queue is pulled out when it passes (see scheduleBefore).
    return call(input, init, url, method, key, callerSignal, Date.now() + deadlineMs);
  };
}

// resilientFetch's own onEvent reaches the retry and cache layers per call (see `call`),
// so a shared retry(...) or cache(...) keeps its own handler too.
function buildRetry(value: ResilientFetchOptions['retry']): RetryEngine | undefined {
  if (value === false) return undefined;
  if (isEngine<RetryEngine>(value)) return value;
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw new ResilienceError(API, 'invalid_options', 'retry must be retry(...), its options, or false');
  }
  return retryEngine((value ?? {}) as RetryOptions);
}

function buildCache(value: ResilientFetchOptions['cache']): CacheEngine | undefined {
  if (value === false || value === undefined) return undefined;
  if (isEngine<CacheEngine>(value)) return value;
  if (typeof value !== 'object' || value === null) {
    throw new ResilienceError(API, 'invalid_options', 'cache must be cache(...), its options, or false');
  }
  return cacheEngine(value as CacheOptions);
}

function buildBreaker(value: ResilientFetchOptions['breaker'], onEvent: ResilienceEventHandler | undefined) {
  if (value === false) return undefined;
  if (value !== undefined && typeof (value as CircuitBreakers).execute === 'function') return value as CircuitBreakers;
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw new ResilienceError(API, 'invalid_options', 'breaker must be circuitBreaker(...), its options, or false');
  }
  const opts = (value ?? {}) as CircuitBreakerOptions;
  const merged = emitter(opts.onEvent, onEvent);
  return circuitBreaker(merged === undefined ? opts : { ...opts, onEvent: merged });
}

/**
 * A limiter's queue bounded by the deadline. The gate's signal is what the
 * limiter sees; its timer (and the caller's abort listener) are set only when
 * the limiter did not start the call at once, so the usual path costs one
 * controller and no timer.
 */
class QueueGate {
  readonly controller = new AbortController();
  started = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  constructor(
    readonly key: string,
    readonly callerSignal: AbortSignal | undefined,
    readonly emit: ResilienceEventHandler | undefined,
  ) {}
  /** The caller aborted while the call was queued. */
  handleEvent(): void {
    this.controller.abort(this.callerSignal?.reason);
  }
  /** The limiter started the call (or gave up on it): the gate has no more work. */
  release(): void {
    this.started = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.callerSignal?.removeEventListener('abort', this);
  }
}

function expireGate(gate: QueueGate, limitMs: number): void {
  gate.emit?.({ type: 'timeout', at: Date.now(), key: gate.key, scope: 'deadline', limitMs });
  gate.controller.abort(
    new ResilienceError(
      'deadline',
      'deadline_exceeded',
      'the deadline passed while the call waited for the rate limiter',
      {
        key: gate.key,
        waitMs: limitMs,
      },
    ),
  );
}

function scheduleBefore(
  limiter: RateLimiter,
  deadlineAt: number,
  key: string,
  callerSignal: AbortSignal | undefined,
  emit: ResilienceEventHandler | undefined,
  run: () => Promise<Response>,
): Promise<Response> {
  if (callerSignal?.aborted) return Promise.reject(callerSignal.reason);
  const gate = new QueueGate(key, callerSignal, emit);
  const pending = limiter.schedule(
    () => {
      gate.release();
      return run();
    },
    { key, signal: gate.controller.signal },
  );
  if (gate.started) return pending; // started at once: no timer, no listener
  const leftMs = Math.max(0, deadlineAt - Date.now());
  gate.timer = setTimeout(expireGate, leftMs, gate, leftMs);
  callerSignal?.addEventListener('abort', gate);
  return pending.then(
    (response) => {
      gate.release();
      return response;
    },
    (error: unknown) => {
      gate.release();
      // queued and pulled out: the deadline's (or the caller's) reason, not the limiter's wrapper
      throw gate.controller.signal.aborted ? gate.controller.signal.reason : error;
    },
  );
}

function checkHeaders(headers: Record<string, HeaderSource>): Array<[string, HeaderSource]> {
  if (typeof headers !== 'object' || headers === null) {
    throw new ResilienceError(API, 'invalid_options', 'headers must be an object of header names to values');
  }
  const entries = Object.entries(headers);
  for (const [name, value] of entries) {
    const ok =
      typeof value === 'string' ||
      typeof value === 'function' ||
      (typeof value === 'object' && value !== null && typeof (value as { reveal?: unknown }).reveal === 'function');
    if (!ok) {
      throw new ResilienceError(
        API,
        'invalid_options',
        `headers[${JSON.stringify(name)}] must be a string, a Secret or a function returning one`,
      );
    }
  }
  return entries;
}

function isEngine<T>(value: unknown): value is T {
  return typeof value === 'object' && value !== null && typeof (value as { run?: unknown }).run === 'function';
}

async function withHeaders(
  input: string | URL | Request,
  init: RequestInit | undefined,
  sources: Array<[string, HeaderSource]>,
): Promise<RequestInit> {
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  for (const [name, source] of sources) {
    const value = typeof source === 'function' ? await source() : source;
    headers.set(name, typeof value === 'string' ? value : value.reveal());
  }
  return { ...init, headers };
}
