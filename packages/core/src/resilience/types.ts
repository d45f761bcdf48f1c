/**
 * Types shared by every layer of `@ballast/core/resilience`: the rate-limiter
 * contract that `resilientFetch` drives, and the typed events every layer
 * emits through one `onEvent` hook.
 */

/** Options of one {@link RateLimiter.schedule} call. */
export interface ScheduleOptions {
  /**
   * The budget this call draws from (e.g. a host, a tenant, an endpoint group).
   * @default the limiter's default key
   */
  key?: string;
  /**
   * How many units of the budget this call costs.
   * @default 1
   */
  weight?: number;
  /**
   * Higher runs first when calls are queued.
   * @default 0
   */
  priority?: number;
  /** Aborts this call only: it leaves the queue (or its running `fn` sees the signal). */
  signal?: AbortSignal;
  /**
   * The longest this call may wait for its turn, in milliseconds; past it the
   * call rejects with `wait_too_long` and never runs (at once, when the
   * limiter already knows it cannot start in time). `0`: run only if it can
   * start now (a shared store's round trip is not waiting). A circuit
   * breaker's probe passes one, so it never sits in a long queue.
   * @default no bound (`redisRateLimiter`: its `maxWait`)
   */
  maxWait?: number;
}

/**
 * The contract every Ballast rate limiter implements (local, Redis-backed,
 * adaptive), and the one `resilientFetch` drives: it calls `schedule` around
 * each attempt and `observe` with each response.
 */
export interface RateLimiter {
  /**
   * Runs `fn` once the budget of `options.key` allows it, and settles with its
   * result. `fn` receives the call's signal, when one was given.
   */
  schedule<T>(fn: (signal?: AbortSignal) => Promise<T>, options?: ScheduleOptions): Promise<T>;
  /**
   * Learns from a response (rate-limit headers, a 429's wait). Optional: only
   * adaptive limiters implement it.
   */
  observe?(response: Response, key?: string): void;
}

/**
 * The options every Ballast rate limiter takes (`rateLimiter`,
 * `adaptiveRateLimiter`, `redisRateLimiter`). Every limit applies per key.
 */
export interface BaseRateLimiterOptions {
  /**
   * Length of the window `limit` applies to, in milliseconds (whole
   * milliseconds for `redisRateLimiter`).
   * @default 1000
   */
  interval?: number;
  /**
   * Calls of one key running at once (in this process, for a limiter shared
   * through Redis).
   * @default Infinity
   */
  concurrency?: number;
  /**
   * Calls of one key this process holds waiting; the next one rejects with `queue_full`.
   * @default 10_000
   */
  maxQueued?: number;
  /**
   * The key of calls that name none.
   * @default 'default'
   */
  defaultKey?: string;
  /**
   * How long a 429 that names no wait pauses its key (in every process, for
   * a limiter shared through Redis), in milliseconds. A key with a limit
   * pauses for at least its window (`interval`, or the learned one).
   * @default 1000
   */
  pauseOn429?: number;
  /**
   * Count a call against the window from its start until `interval` after it
   * settles, instead of `interval` after it starts. The provider counts a
   * request when it arrives, some time after the grant (connection set-up, a
   * busy event loop, the network); holding the slot until the call settles
   * keeps every window the provider can see under `limit`, at the cost of a
   * throughput of `limit` per `interval` plus the call's duration (and, for
   * `redisRateLimiter`, one more Redis command per call). A call that never
   * settles holds its units (give calls a timeout; `resilientFetch` does).
   * @default true
   */
  holdUntilSettled?: boolean;
  /**
   * The longest pause a response can impose, in milliseconds: a guard against
   * a provider header read wrongly.
   * @default 300_000
   */
  maxPause?: number;
  /** Receives a `throttle` event whenever a call waits for the budget or a key is paused. Must not throw. */
  onEvent?: ResilienceEventHandler;
}

/** Fields every resilience event carries. */
export interface ResilienceEventBase {
  /** Wall-clock time of the decision, in epoch milliseconds. */
  at: number;
  /** The group the decision applies to: a host, or the key a key function returned. */
  key: string;
  /** The call it belongs to (unique within the process), when a `resilientFetch` call emitted it. */
  callId?: string;
  /** That call's upper-case HTTP method. */
  method?: string;
  /** That call's URL without secrets: no userinfo, credential-like query values replaced by `redacted`. */
  url?: string;
  /** The attempt, 1-based, when the event belongs to one. */
  attempt?: number;
  /** What the caller passed as `policy.context` for that call. */
  context?: unknown;
}

/** A failed attempt will be retried after `delayMs`. */
export interface RetryEvent extends ResilienceEventBase {
  type: 'retry';
  /** The attempt that failed, 1-based. */
  attempt: number;
  /** How long the retry waits before the next attempt. */
  delayMs: number;
  /** Where the wait came from: computed backoff, the server's own header, or an `afterResponse` hook asking for a retry (no wait). */
  delaySource: 'backoff' | 'server' | 'hook';
  /** The failed attempt's HTTP status, when it got a response. */
  status?: number;
  /** The failed attempt's error, when it got none. */
  error?: unknown;
}

/** Retrying stopped: the failure is handed to the caller. */
export interface RetryGiveUpEvent extends ResilienceEventBase {
  type: 'retry.give_up';
  /** The last attempt, 1-based. */
  attempt: number;
  /** Why no further attempt is made. */
  reason:
    | 'not_retryable'
    | 'attempts_exhausted'
    | 'unsafe_method'
    | 'retry_budget_exhausted'
    | 'retry_after_too_long'
    | 'deadline_exceeded';
  /** The requested or computed wait, when the reason is about a wait. */
  waitMs?: number;
  status?: number;
  error?: unknown;
}

/** A circuit breaker changed state. */
export interface BreakerStateEvent extends ResilienceEventBase {
  type: 'breaker.open' | 'breaker.half_open' | 'breaker.close' | 'breaker.isolate';
  /** The state before the change. */
  from: 'closed' | 'open' | 'half_open' | 'isolated';
}

/** A call was refused at once because the breaker is open, isolated, or its probe is in flight. */
export interface BreakerRejectEvent extends ResilienceEventBase {
  type: 'breaker.reject';
  /** Milliseconds until the breaker admits a probe (or the probe in flight loses its slot); 0 when isolated. */
  retryInMs: number;
}

/** A rate limiter held a call back, or paused a key. Emitted by the limiters. */
export interface ThrottleEvent extends ResilienceEventBase {
  type: 'throttle';
  /** How long the call waits (or the key stays paused), in milliseconds, when known. */
  waitMs: number;
  /** Queued behind the budget, or the whole key paused on the provider's word. */
  reason: 'queued' | 'paused';
}

/** An attempt, or the whole call, ran out of time. */
export interface TimeoutEvent extends ResilienceEventBase {
  type: 'timeout';
  /** The per-attempt timeout, or the overall deadline. */
  scope: 'attempt' | 'deadline';
  /** The limit that was exceeded, in milliseconds. */
  limitMs: number;
}

/** The cache answered a call. */
export interface CacheEvent extends ResilienceEventBase {
  type: 'cache.hit' | 'cache.stale';
  /** Age of the served entry, in milliseconds. */
  ageMs: number;
  /** For a stale serve: the failure it stands in for. */
  error?: unknown;
}

/** The cache had nothing usable for a failed call. */
export interface CacheMissEvent extends ResilienceEventBase {
  type: 'cache.miss';
  error?: unknown;
}

/**
 * Every decision a resilience layer takes, as one discriminated union on
 * `type`. Hand a handler to `onEvent` to log them or turn them into
 * OpenTelemetry span events and metrics.
 */
export type ResilienceEvent =
  | RetryEvent
  | RetryGiveUpEvent
  | BreakerStateEvent
  | BreakerRejectEvent
  | ThrottleEvent
  | TimeoutEvent
  | CacheEvent
  | CacheMissEvent;

/** The `onEvent` hook every layer accepts. It must not throw; errors it throws are swallowed. */
export type ResilienceEventHandler = (event: ResilienceEvent) => void;

/** The signature of the global `fetch`, which `resilientFetch` wraps and returns. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
