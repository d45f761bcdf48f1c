import { emitter } from '../internal';
import {
  isResponseLike,
  mayReportSpentBudget,
  pauseAsked,
  type RateLimitSignal,
  readRateLimitHeaders,
} from '../rate-limit-headers';
import type { BaseRateLimiterOptions, RateLimiter, ScheduleOptions } from '../types';
import { overweightError, RateLimitError, waitTooLongError } from './errors';
import { GrantLog } from './grant-log';
import { emitThrottle, queueCall, rejectWaiting, takeWaiter, type Waiter } from './queue';
import {
  admitCall,
  callOptions,
  checkPause,
  optionalBoolean,
  optionsObject,
  positiveNumber,
  rejectUnknownOptions,
  SHARED_DEFAULTS,
  type SharedLimiterConfig,
  sharedLimiterOptions,
} from './validate';
import { WaiterHeap } from './waiter-heap';

const API = 'rateLimiter';

/** Options of {@link rateLimiter}. Every limit applies per key: each key has its own budget. */
export interface RateLimiterOptions extends BaseRateLimiterOptions {
  /**
   * Units (calls, or their weights) allowed in any window of `interval`
   * milliseconds. Enforced as a sliding window: no span of `interval` ms,
   * wherever it starts, holds more.
   * @default Infinity (no interval budget)
   */
  limit?: number;
  /**
   * Learn each key's limit and window from the provider's headers (passed to
   * `observe`), replacing `limit` / `interval` for that key.
   * @default false
   */
  adaptive?: boolean;
  /**
   * The provider's window in milliseconds, for learned limits whose headers
   * do not name one (Pipedrive: 2000). Without it the window is inferred as
   * the longest reset the key has seen.
   * @default undefined (inferred)
   */
  providerWindow?: number;
  /**
   * A key with nothing running, queued or paused and no grant for this long
   * is forgotten (checked without timers, when new keys arrive).
   * @default 60_000
   */
  idleTimeout?: number;
}

/** What one key looks like right now, for health checks and tests. */
export interface RateLimiterKeyStats {
  /** Calls of this key running. */
  running: number;
  /** Calls of this key waiting. */
  queued: number;
  /** Units used in the current window (`limit` minus what is left), running calls included. */
  used: number;
  /** The limit in force: configured, or learned from headers. */
  limit: number;
  /** The window in force, in milliseconds. */
  interval: number;
  /** Epoch milliseconds until which the key is paused, 0 when it is not. */
  pausedUntil: number;
}

/** A process-local {@link RateLimiter} with per-key budgets, priorities and adaptive pauses. */
export interface LocalRateLimiter extends RateLimiter {
  /**
   * Learns from a response sent under `key`: a 429, or `remaining` at 0,
   * pauses the key until the provider's reset; with `adaptive`, the limit
   * and window are learned too. Never throws on odd headers.
   */
  observe(response: Response, key?: string): void;
  /** Holds every call of `key` back for `ms` milliseconds (a longer pause in force stays). */
  pause(key: string, ms: number): void;
  /** The state of one key, or undefined when the limiter tracks nothing for it. */
  stats(key?: string): RateLimiterKeyStats | undefined;
  /** Number of keys tracked (idle keys are dropped). */
  readonly size: number;
  /** Rejects every waiting call with `closed` and clears every timer; later calls reject too. */
  close(): void;
}

interface Normalized extends SharedLimiterConfig {
  limit: number;
  interval: number;
  adaptive: boolean;
  providerWindow: number | undefined;
  idleTimeout: number;
}

const DEFAULTS = {
  ...SHARED_DEFAULTS,
  limit: Number.POSITIVE_INFINITY,
  adaptive: false,
  idleTimeout: 60_000,
} as const;

function normalize(options: unknown): Normalized {
  const o = optionsObject(API, options, false);
  rejectUnknownOptions(API, o, [...Object.keys(DEFAULTS), 'providerWindow', 'onEvent']);
  return {
    ...sharedLimiterOptions(API, o),
    limit: positiveNumber(API, 'limit', o.limit ?? DEFAULTS.limit, true),
    interval: positiveNumber(API, 'interval', o.interval ?? DEFAULTS.interval, false),
    adaptive: optionalBoolean(API, 'adaptive', o.adaptive, DEFAULTS.adaptive),
    providerWindow:
      o.providerWindow === undefined ? undefined : positiveNumber(API, 'providerWindow', o.providerWindow, false),
    idleTimeout: positiveNumber(API, 'idleTimeout', o.idleTimeout ?? DEFAULTS.idleTimeout, false),
  };
}

interface KeyState {
  readonly key: string;
  limit: number;
  interval: number;
  /** Present while the key has a finite limit. Holds settled calls (or, without `holdUntilSettled`, grants). */
  log: GrantLog | undefined;
  running: number;
  /**
   * Weight of the running calls whose window has not started (`holdUntilSettled`):
   * they count against the budget until they settle, then for `interval` more.
   */
  inFlight: number;
  readonly queue: WaiterHeap<Waiter>;
  timer: ReturnType<typeof setTimeout> | undefined;
  timerAt: number;
  pausedUntil: number;
  /** Longest reset seen, the inferred provider window (adaptive). */
  longestReset: number;
  /** Recent call duration, a decaying maximum (adaptive): how stale a response's count can be. */
  latency: number;
  lastGrant: number;
  /** Shared settle handlers, so a call that runs at once allocates no closures. */
  readonly onSettled: <T>(value: T) => T;
  readonly onFailed: (error: unknown) => never;
}

/**
 * Creates a process-local rate limiter: a sliding-window budget of `limit`
 * units per `interval`, `concurrency` calls at once, weights, priorities,
 * per-call abort, a bounded queue, and one budget per key.
 *
 * A call that fits (budget left, a free slot, nothing queued ahead) runs at
 * once without touching a timer or allocating a queue entry.
 *
 * @example
 * ```ts
 * const limiter = rateLimiter({ limit: 20, interval: 2000, concurrency: 5 });
 * const person = await limiter.schedule(() => fetch('https://api.example.com/persons/1'), { key: 'tenant-42' });
 * ```
 */
export function rateLimiter(options?: RateLimiterOptions): LocalRateLimiter {
  const config = normalize(options);
  const { concurrency, maxQueued, defaultKey } = config;
  const emit = emitter(config.onEvent);
  const hold = config.holdUntilSettled;
  const keys = new Map<string, KeyState>();
  const call = callOptions(defaultKey);
  let seq = 0;
  let lastSweep = Date.now();
  let closed = false;

  function createState(key: string): KeyState {
    const state: KeyState = {
      key,
      limit: config.limit,
      interval: config.interval,
      log: Number.isFinite(config.limit) ? new GrantLog(Math.min(1024, config.limit)) : undefined,
      running: 0,
      inFlight: 0,
      queue: new WaiterHeap<Waiter>(),
      timer: undefined,
      timerAt: 0,
      pausedUntil: 0,
      longestReset: 0,
      latency: 0,
      lastGrant: Number.NEGATIVE_INFINITY,
      onSettled: <T>(value: T): T => {
        release(state, 1);
        return value;
      },
      onFailed: (error: unknown): never => {
        release(state, 1);
        throw error;
      },
    };
    return state;
  }

  function isIdle(state: KeyState, now: number): boolean {
    return (
      state.running === 0 &&
      state.queue.size === 0 &&
      state.pausedUntil <= now &&
      now - state.lastGrant >= Math.max(config.idleTimeout, state.interval)
    );
  }

  function stateFor(key: string): KeyState {
    const existing = keys.get(key);
    if (existing !== undefined) return existing;
    const now = Date.now();
    if (now - lastSweep >= config.idleTimeout) {
      lastSweep = now;
      for (const [k, s] of keys) if (isIdle(s, now)) keys.delete(k);
    }
    const state = createState(key);
    keys.set(key, state);
    return state;
  }

  /**
   * A call of `weight` settled: its slot frees, and (`holdUntilSettled`) its
   * window starts now. The provider counted it when it arrived, at some
   * point between the grant and now, so counting from now never lets a
   * window the provider sees hold more than `limit`.
   */
  function release(state: KeyState, weight: number): void {
    state.running--;
    if (hold) {
      state.inFlight = state.running === 0 ? 0 : state.inFlight - weight;
      const log = state.log;
      if (log !== undefined) log.add(Math.max(Date.now(), log.last()), weight);
    }
    if (state.queue.size > 0) drain(state);
  }

  /** Starts `fn` now: takes the slot and the budget, returns its settled result. */
  function start<T>(
    state: KeyState,
    fn: (signal?: AbortSignal) => Promise<T>,
    weight: number,
    signal: AbortSignal | undefined,
    now: number,
  ): Promise<T> {
    state.running++;
    state.lastGrant = now;
    if (hold) state.inFlight += weight;
    else state.log?.add(Math.max(now, state.log.last()), weight);
    let result: Promise<T>;
    try {
      result = fn(signal);
    } catch (error) {
      release(state, weight);
      return Promise.reject(error);
    }
    if (!config.adaptive && weight === 1) return Promise.resolve(result).then(state.onSettled, state.onFailed);
    // other weights, and adaptive keys (which time their calls): one closure per call
    return Promise.resolve(result).then(
      (value) => {
        settled(state, weight, now);
        return value;
      },
      (error: unknown) => {
        settled(state, weight, now);
        throw error;
      },
    );
  }

  function settled(state: KeyState, weight: number, startedAt: number): void {
    if (config.adaptive) state.latency = Math.max(Date.now() - startedAt, state.latency * 0.9);
    release(state, weight);
  }

  /**
   * When `weight` more may start, or a time ≤ now for "now", or Infinity when
   * running calls must settle first (their release drains the queue). Prunes the log.
   */
  function readyAt(state: KeyState, weight: number, now: number): number {
    let at = state.pausedUntil;
    const log = state.log;
    if (log !== undefined) {
      log.prune(now, state.interval);
      const budgetAt = log.availableAt(weight + state.inFlight, state.limit, state.interval);
      if (budgetAt > at) at = budgetAt;
    }
    return at;
  }

  function arm(state: KeyState, at: number, now: number): void {
    if (state.timer !== undefined) {
      if (state.timerAt <= at) return;
      clearTimeout(state.timer);
    }
    state.timerAt = at;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      drain(state);
    }, at - now);
  }

  function disarm(state: KeyState): void {
    if (state.timer !== undefined) {
      clearTimeout(state.timer);
      state.timer = undefined;
    }
  }

  /** Starts queued calls while the key allows, then arms one timer for the next start if needed. */
  function drain(state: KeyState): void {
    const queue = state.queue;
    for (;;) {
      const head = queue.peek();
      if (head === undefined) {
        disarm(state);
        return;
      }
      if (head.weight > state.limit) {
        takeWaiter(queue, head);
        head.reject(overweightError(API, state.key, head.weight, state.limit));
        continue;
      }
      if (state.running >= concurrency) return;
      const now = Date.now();
      const at = readyAt(state, head.weight, now);
      if (at > now && head.maxWait !== Number.POSITIVE_INFINITY) {
        // the head cannot make its deadline: say so now rather than when it passes
        const earliest = at === Number.POSITIVE_INFINITY ? Math.max(state.pausedUntil, now + state.interval) : at;
        if (earliest > head.enqueuedAt + head.maxWait) {
          takeWaiter(queue, head);
          head.reject(waitTooLongError(API, state.key, earliest - head.enqueuedAt, head.maxWait));
          continue;
        }
      }
      if (at > now) {
        // Infinity: the budget frees only once running calls settle, and their release drains
        if (at !== Number.POSITIVE_INFINITY) arm(state, at, now);
        return;
      }
      takeWaiter(queue, head);
      head.resolve(start(state, head.fn, head.weight, head.signal, now));
    }
  }

  function schedule<T>(fn: (signal?: AbortSignal) => Promise<T>, options?: ScheduleOptions): Promise<T> {
    const admitted = admitCall(API, fn, options, defaultKey, closed, call);
    if (admitted instanceof RateLimitError) return Promise.reject(admitted);
    // copied out: `call` is reused by the next schedule, which `fn` may make at once
    const { key, weight, priority, signal, maxWait } = admitted;
    const state = stateFor(key);
    if (weight > state.limit) return Promise.reject(overweightError(API, key, weight, state.limit));
    const now = Date.now();
    // fast path: nothing queued ahead, a free slot, the budget allows it
    if (state.queue.size === 0 && state.running < concurrency && readyAt(state, weight, now) <= now) {
      return start(state, fn, weight, signal, now);
    }
    if (maxWait === 0) return Promise.reject(waitTooLongError(API, key, expectedWait(state, weight, now), 0));
    return queueCall<T, Waiter>(
      API,
      key,
      state.queue,
      maxQueued,
      { fn, weight, priority, seq: seq++, signal, enqueuedAt: now, maxWait },
      () => {
        if (emit !== undefined) emitThrottle(emit, key, 'queued', expectedWait(state, weight, now));
        drain(state);
      },
      () => drain(state),
    );
  }

  /** The wait a queued call expects: when running calls must settle first, at least one window. */
  function expectedWait(state: KeyState, weight: number, now: number): number {
    const at = readyAt(state, weight, now);
    return at === Number.POSITIVE_INFINITY ? Math.max(state.pausedUntil - now, state.interval) : at - now;
  }

  function pauseUntil(state: KeyState, until: number, now: number): void {
    const capped = Math.min(until, now + config.maxPause);
    if (capped <= state.pausedUntil || capped <= now) return;
    state.pausedUntil = capped;
    emitThrottle(emit, state.key, 'paused', capped - now);
    if (state.queue.size > 0) drain(state);
  }

  /**
   * Adopts the provider's limit and window for the key and books what the
   * provider counted that this process did not. Returns false when the
   * headers do not say enough (no limit, no window).
   */
  function learn(state: KeyState, signal: RateLimitSignal, now: number): boolean {
    const limit = signal.limit;
    if (limit === undefined || limit <= 0) return false;
    if (signal.resetMs !== undefined && signal.resetMs > state.longestReset) state.longestReset = signal.resetMs;
    const window = signal.windowMs ?? config.providerWindow ?? state.longestReset;
    if (!(window > 0)) return false;
    state.limit = limit;
    state.interval = window;
    if (state.log === undefined) state.log = new GrantLog(Math.min(1024, limit));
    const log = state.log;
    // the provider counted at some point during the call, up to one call
    // duration ago: compare with what this process had sent by then, so grants
    // that left the window since are not taken for someone else's
    const staleness = Math.min(window, Math.ceil(state.latency * 2) + 1);
    log.retain = staleness;
    log.prune(now, window);
    // the provider counted more than this process knows of (other processes,
    // calls made before the limit was learned): book the difference so the
    // local view never promises more than the provider has left. Running calls
    // count as ours: the provider may have counted them already, and if it has
    // not, they are on their way (never booked twice, at worst not booked)
    const remaining = signal.remaining;
    if (remaining !== undefined) {
      const unknown = limit - log.usedSince(now - window - staleness) - state.inFlight - remaining;
      if (unknown > 0) {
        const expiresIn = signal.resetMs !== undefined ? Math.min(signal.resetMs, window) : window;
        log.add(Math.max(log.last(), now + expiresIn - window), unknown);
      }
    }
    return true;
  }

  function observe(response: Response, key: string = defaultKey): void {
    if (closed || !isResponseLike(response)) return;
    const state = stateFor(key);
    // Most responses are successes with budget left: only an adaptive key learns
    // from those, so the others skip reading the headers (three look-ups instead of ten)
    if (!config.adaptive && response.status !== 429 && !mayReportSpentBudget(response.headers)) return;
    const now = Date.now();
    const signal = readRateLimitHeaders(response.headers, now);
    // a learned key's log already holds the provider's count, down to the
    // millisecond; a whole-second reset header would only round the pause up
    const synced = config.adaptive && learn(state, signal, now);
    if (response.status === 429 || !synced) {
      // a 429 that names no wait: a key with a window stays quiet for all of it
      const bare = Number.isFinite(state.limit) ? Math.max(config.pauseOn429, state.interval) : config.pauseOn429;
      const ms = pauseAsked(response.status, signal, bare);
      if (ms !== undefined) pauseUntil(state, now + ms, now);
    }
    if (state.queue.size > 0) drain(state);
  }

  return {
    schedule,
    observe,
    pause(key: string, ms: number): void {
      checkPause(API, key, ms);
      const now = Date.now();
      pauseUntil(stateFor(key), now + ms, now);
    },
    stats(key: string = defaultKey): RateLimiterKeyStats | undefined {
      const state = keys.get(key);
      if (state === undefined) return undefined;
      state.log?.prune(Date.now(), state.interval);
      return {
        running: state.running,
        queued: state.queue.size,
        used: (state.log?.used ?? 0) + state.inFlight,
        limit: state.limit,
        interval: state.interval,
        pausedUntil: state.pausedUntil > Date.now() ? state.pausedUntil : 0,
      };
    },
    get size(): number {
      return keys.size;
    },
    close(): void {
      closed = true;
      for (const state of keys.values()) {
        disarm(state);
        rejectWaiting(API, state.key, state.queue);
      }
    },
  };
}

/**
 * Creates a {@link rateLimiter} that learns each key's limit and window from
 * the provider's headers (`adaptive: true`), so a bulk job finds the budget
 * on its own instead of hammering it. Pass every response to `observe`
 * (`resilientFetch` does).
 *
 * @example
 * ```ts
 * const limiter = adaptiveRateLimiter({ concurrency: 5, providerWindow: 2000 });
 * const res = await limiter.schedule(() => fetch(url));
 * limiter.observe(res);
 * ```
 */
export function adaptiveRateLimiter(options?: Omit<RateLimiterOptions, 'adaptive'>): LocalRateLimiter {
  const o = optionsObject('adaptiveRateLimiter', options, false) as RateLimiterOptions;
  return rateLimiter({ ...o, adaptive: true });
}
