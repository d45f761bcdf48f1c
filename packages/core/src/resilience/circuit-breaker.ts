import { checkFunction, checkNumber, checkOptions, ResilienceError } from './errors';
import { definedOnly, emitter, isNetworkFailure } from './internal';
import type { BreakerStateEvent, ResilienceEventHandler } from './types';

/** The state of one breaker. `isolated` is held open by hand until released. */
export type BreakerState = 'closed' | 'open' | 'half_open' | 'isolated';

/**
 * How one call counts for its breaker:
 *
 * - `success`: the provider answered (a 2xx, a 4xx other than 429): resets the run of failures, closes a half-open breaker.
 * - `failure`: the provider failed (5xx, timeout, network error): counts toward opening, re-opens a half-open breaker.
 * - `ignore`: the call says nothing about the provider (a local refusal: a limiter, a deadline, the
 *   caller's abort, an open breaker, a request that could not be built; or a 429). Counted nowhere;
 *   a half-open breaker gives its probe slot back and admits another probe.
 */
export type BreakerVerdict = 'success' | 'failure' | 'ignore';

/** What one call through {@link CircuitBreakers.execute} ended with, as shown to `classify`. */
export type BreakerOutcome = { value: unknown; error?: undefined } | { error: unknown; value?: undefined };

/** Options of {@link circuitBreaker}. */
export interface CircuitBreakerOptions {
  /**
   * Open after this many failures in a row (ignored calls do not break the run). At least 2: one failure never opens a breaker.
   * @default 5
   */
  failureThreshold?: number;
  /**
   * Also open when the failure fraction over the rolling window exceeds this (0 < rate <= 1)...
   * @default 0.5
   */
  errorRate?: number;
  /**
   * ...once the window holds at least this many counted calls (successes and failures). At least 2.
   * @default 20
   */
  minimumVolume?: number;
  /**
   * Length of the rolling window, in milliseconds (ten buckets).
   * @default 10_000
   */
  windowMs?: number;
  /**
   * How long a breaker stays open the first time before it admits one probe (half-open).
   * @default 30_000
   */
  cooldownMs?: number;
  /**
   * Each failed probe doubles the open time, up to this cap; a success brings it back to `cooldownMs`.
   * Set it to `cooldownMs` for a constant break.
   * @default 300_000
   */
  maxCooldownMs?: number;
  /**
   * The longest a half-open probe may take. `resilientFetch` runs the probe (its limiter wait
   * included) under this bound; a probe still unsettled after it loses its slot, so a lost or
   * hung probe never leaves the breaker half-open for good.
   * @default 30_000
   */
  probeTimeoutMs?: number;
  /**
   * How {@link CircuitBreakers.execute} counts an outcome. `resilientFetch` does not use it: it
   * settles the breaker with its own classification (its `classify` option).
   * @default {@link defaultBreakerVerdict}
   */
  classify?: (outcome: BreakerOutcome) => BreakerVerdict | Promise<BreakerVerdict>;
  /**
   * A closed breaker unused for this long is dropped (checked lazily: the registry holds no timers).
   * @default 300_000
   */
  idleMs?: number;
  /** Receives `breaker.open`, `breaker.half_open`, `breaker.close`, `breaker.isolate` and `breaker.reject` events. */
  onEvent?: ResilienceEventHandler;
}

/** Options of one {@link CircuitBreakers.execute} call. */
export interface BreakerCallOptions {
  /** The caller's signal, handed to `fn`. Aborting it aborts this call only, and the abort is not counted. */
  signal?: AbortSignal;
}

/** A breaker's state as a health check reads it. */
export interface BreakerHealth {
  key: string;
  state: BreakerState;
  /** Failures in a row so far. */
  consecutiveFailures: number;
  /** Milliseconds until an open breaker admits a probe (or a probe in flight loses its slot); 0 otherwise. */
  retryInMs: number;
}

/**
 * The right to make one call through a breaker, from {@link CircuitBreakers.acquire}.
 * Settle it exactly once; later settles are ignored.
 */
export interface BreakerPermit {
  /** True when this call is the half-open probe. */
  readonly probe: boolean;
  /** For a probe: the epoch ms after which it loses its slot. Infinity otherwise. */
  readonly expiresAt: number;
  /** Reports how the call ended. */
  settle(verdict: BreakerVerdict): void;
}

/** Lifts an {@link CircuitBreakers.isolate} hold. */
export interface BreakerIsolation {
  /** Ends this hold; the breaker closes once every hold on it is released. Idempotent. */
  release(): void;
}

/**
 * A registry of circuit breakers, one per key (a provider, a host, an
 * endpoint group), created on first use and dropped when idle.
 */
export interface CircuitBreakers {
  /**
   * Runs `fn` through the breaker of `key`. Rejects at once with a
   * `ResilienceError` of code `circuit_open` while that breaker is open.
   */
  execute<T>(key: string, fn: (signal?: AbortSignal) => Promise<T>, options?: BreakerCallOptions): Promise<T>;
  /**
   * The low-level form of `execute`: admits one call or throws `circuit_open`. `emit` also
   * receives the events this call causes (what `resilientFetch` passes its `onEvent` through).
   */
  acquire(key: string, emit?: ResilienceEventHandler): BreakerPermit;
  /** Holds `key`'s breaker open until released (maintenance, a known outage). Calls fail with `circuit_open`. */
  isolate(key: string): BreakerIsolation;
  /** Closes `key`'s breaker (or every breaker) and forgets its failures; isolation holds stay. */
  reset(key?: string): void;
  /** The state of `key`'s breaker (`closed` when it has none). */
  state(key: string): BreakerState;
  /** Every live breaker's state, for a health endpoint. */
  health(): BreakerHealth[];
  /** How many breakers are alive. */
  readonly size: number;
  /** Drops every breaker. The registry holds no timers; this only frees memory. */
  close(): void;
}

const DEFAULTS = {
  failureThreshold: 5,
  errorRate: 0.5,
  minimumVolume: 20,
  windowMs: 10_000,
  cooldownMs: 30_000,
  maxCooldownMs: 300_000,
  probeTimeoutMs: 30_000,
  idleMs: 300_000,
  classify: defaultBreakerVerdict as NonNullable<CircuitBreakerOptions['classify']>,
};

const BUCKETS = 10;
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The default rule of `execute`: a `Response` counts by status (5xx a failure, 429 ignored,
 * anything else a success), any other value is a success; a thrown network error or
 * per-attempt `timeout` is a failure, anything else thrown is ignored.
 */
export function defaultBreakerVerdict(outcome: BreakerOutcome): BreakerVerdict {
  if ('value' in outcome) {
    const value = outcome.value;
    if (value instanceof Response) return value.status >= 500 ? 'failure' : value.status === 429 ? 'ignore' : 'success';
    return 'success';
  }
  return isNetworkFailure(outcome.error) ? 'failure' : 'ignore';
}

type Normalized = typeof DEFAULTS;

/** One key's breaker: a small state machine read and advanced lazily, with no timers. */
class Breaker {
  state: BreakerState = 'closed';
  consecutive = 0;
  openedAt = 0;
  breakMs: number;
  failedProbes = 0;
  probe: Permit | undefined;
  isolations = 0;
  /** Bumped on every state change: permits of an earlier period are not counted. */
  epoch = 0;
  lastUsed: number;
  inFlight = 0;
  /** Rolling window: counted calls and failures per bucket, and the bucket index (time / bucketMs) of `calls[0]`. */
  readonly calls = new Array<number>(BUCKETS).fill(0);
  readonly failures = new Array<number>(BUCKETS).fill(0);
  bucket = 0;

  constructor(
    readonly key: string,
    readonly o: Normalized,
    readonly emit: ResilienceEventHandler | undefined,
    now: number,
  ) {
    this.breakMs = o.cooldownMs;
    this.lastUsed = now;
  }

  change(to: BreakerState, now: number, callEmit: ResilienceEventHandler | undefined): void {
    const from = this.state;
    this.state = to;
    this.epoch++;
    if (to === 'open') this.openedAt = now;
    this.probe = undefined;
    if (to === 'closed') {
      this.consecutive = 0;
      this.failedProbes = 0;
      this.breakMs = this.o.cooldownMs;
      this.calls.fill(0);
      this.failures.fill(0);
    }
    if (from === to) return;
    const type: BreakerStateEvent['type'] =
      to === 'open'
        ? 'breaker.open'
        : to === 'closed'
          ? 'breaker.close'
          : to === 'half_open'
            ? 'breaker.half_open'
            : 'breaker.isolate';
    const event: BreakerStateEvent = { type, at: now, key: this.key, from };
    this.emit?.(event);
    if (callEmit !== this.emit) callEmit?.(event);
  }

  /** Moves an open breaker whose break has passed to half-open, and frees a probe slot held too long. */
  advance(now: number, callEmit: ResilienceEventHandler | undefined): void {
    if (this.state === 'open' && now >= this.openedAt + this.breakMs) this.change('half_open', now, callEmit);
    if (this.state === 'half_open' && this.probe !== undefined && now >= this.probe.expiresAt) this.probe = undefined;
  }

  retryIn(now: number): number {
    if (this.state === 'open') return Math.max(0, this.openedAt + this.breakMs - now);
    if (this.state === 'half_open' && this.probe !== undefined) return Math.max(0, this.probe.expiresAt - now);
    return 0;
  }

  /** Rotates the window to `now`: buckets older than the window are emptied. */
  rotate(now: number): void {
    const index = Math.floor(now / (this.o.windowMs / BUCKETS));
    const steps = index - this.bucket;
    if (steps <= 0) return;
    if (steps >= BUCKETS) {
      this.calls.fill(0);
      this.failures.fill(0);
    } else {
      this.calls.copyWithin(steps, 0, BUCKETS - steps).fill(0, 0, steps);
      this.failures.copyWithin(steps, 0, BUCKETS - steps).fill(0, 0, steps);
    }
    this.bucket = index;
  }

  record(permit: Permit, verdict: BreakerVerdict, now: number): void {
    if (permit.probe) {
      if (this.probe !== permit || this.state !== 'half_open') return; // lost its slot meanwhile
      if (verdict === 'success') this.change('closed', now, permit.emit);
      else if (verdict === 'failure') {
        this.failedProbes++;
        this.breakMs = Math.min(this.o.maxCooldownMs, this.o.cooldownMs * 2 ** this.failedProbes);
        this.consecutive++;
        this.change('open', now, permit.emit);
      } else this.probe = undefined; // proved nothing: the next call probes
      return;
    }
    if (verdict === 'ignore' || permit.epoch !== this.epoch || this.state !== 'closed') return;
    this.rotate(now);
    this.calls[0] = (this.calls[0] ?? 0) + 1;
    if (verdict === 'success') {
      this.consecutive = 0;
      return;
    }
    this.consecutive++;
    this.failures[0] = (this.failures[0] ?? 0) + 1;
    if (this.consecutive >= this.o.failureThreshold || this.rateExceeded()) this.change('open', now, permit.emit);
  }

  rateExceeded(): boolean {
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      calls += this.calls[i] ?? 0;
      failures += this.failures[i] ?? 0;
    }
    return calls >= this.o.minimumVolume && failures / calls > this.o.errorRate;
  }
}

class Permit implements BreakerPermit {
  done = false;
  constructor(
    readonly breaker: Breaker,
    readonly probe: boolean,
    readonly expiresAt: number,
    readonly epoch: number,
    readonly emit: ResilienceEventHandler | undefined,
  ) {}
  settle(verdict: BreakerVerdict): void {
    if (this.done) return;
    this.done = true;
    const b = this.breaker;
    b.inFlight--;
    b.record(this, verdict, Date.now());
  }
}

/**
 * Builds a registry of circuit breakers: a small state machine per key, with
 * three outcomes per call (success, failure, ignored) and no timers.
 *
 * A breaker opens after `failureThreshold` failures in a row, or when more
 * than `errorRate` of at least `minimumVolume` counted calls in the rolling
 * window failed. Open, it fails fast for its break (`cooldownMs`, doubling per
 * failed probe up to `maxCooldownMs`), then admits one probe (half-open):
 * success closes it, failure opens it again, an ignored outcome frees the slot
 * for another probe.
 *
 * @example
 * ```ts
 * const breakers = circuitBreaker({ failureThreshold: 5, cooldownMs: 30_000 });
 * const fetch = resilientFetch({ breaker: breakers });
 * const health = Response.json(breakers.health()); // what a /health route can return
 * const hold = breakers.isolate('api.example.com'); // maintenance window: fail fast
 * hold.release();
 * ```
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakers {
  const api = 'circuitBreaker';
  checkOptions(api, options);
  const o: Normalized = { ...DEFAULTS, ...definedOnly(options) };
  checkNumber(api, 'failureThreshold', o.failureThreshold, 2);
  checkNumber(api, 'errorRate', o.errorRate, Number.MIN_VALUE, 1);
  checkNumber(api, 'minimumVolume', o.minimumVolume, 2);
  checkNumber(api, 'windowMs', o.windowMs, BUCKETS);
  checkNumber(api, 'cooldownMs', o.cooldownMs, 1, MAX_TIMER_MS);
  checkNumber(api, 'maxCooldownMs', o.maxCooldownMs, o.cooldownMs, MAX_TIMER_MS);
  checkNumber(api, 'probeTimeoutMs', o.probeTimeoutMs, 1, MAX_TIMER_MS);
  checkNumber(api, 'idleMs', o.idleMs, 1);
  checkFunction(api, 'classify', o.classify);
  checkFunction(api, 'onEvent', options.onEvent);
  const emit = emitter(options.onEvent);
  const classify = o.classify;
  const entries = new Map<string, Breaker>();
  let sweptAt = Date.now();

  /** Drops breakers that are closed, idle and have nothing in flight; at most once per `idleMs / 10`. */
  const sweep = (now: number) => {
    if (now - sweptAt < o.idleMs / BUCKETS) return;
    sweptAt = now;
    for (const [key, b] of entries) {
      if (b.inFlight === 0 && b.state === 'closed' && now - b.lastUsed >= o.idleMs) entries.delete(key);
    }
  };

  const get = (key: string, now: number): Breaker => {
    let b = entries.get(key);
    if (b === undefined) {
      sweep(now);
      b = new Breaker(key, o, emit, now);
      entries.set(key, b);
    }
    return b;
  };

  const refuse = (b: Breaker, now: number, callEmit: ResilienceEventHandler | undefined): never => {
    const retryInMs = b.retryIn(now);
    const event = { type: 'breaker.reject' as const, at: now, key: b.key, retryInMs };
    emit?.(event);
    if (callEmit !== emit) callEmit?.(event);
    const isolated = b.state === 'isolated';
    throw new ResilienceError(
      api,
      'circuit_open',
      isolated
        ? `the circuit for ${JSON.stringify(b.key)} is isolated`
        : b.state === 'half_open'
          ? `the circuit for ${JSON.stringify(b.key)} is half-open and its probe is in flight`
          : `the circuit for ${JSON.stringify(b.key)} is open`,
      isolated ? { key: b.key } : { key: b.key, waitMs: retryInMs },
    );
  };

  const acquire = (key: string, callEmit?: ResilienceEventHandler): BreakerPermit => {
    const now = Date.now();
    const b = get(key, now);
    b.lastUsed = now;
    if (b.state !== 'closed') {
      b.advance(now, callEmit);
      if (b.state === 'open' || b.state === 'isolated') refuse(b, now, callEmit);
      if (b.state === 'half_open') {
        if (b.probe !== undefined) refuse(b, now, callEmit);
        b.inFlight++;
        b.probe = new Permit(b, true, now + o.probeTimeoutMs, b.epoch, callEmit);
        return b.probe;
      }
    }
    b.inFlight++;
    return new Permit(b, false, Number.POSITIVE_INFINITY, b.epoch, callEmit);
  };

  /** Settles `permit` by `classify`; waits only when the classifier is async. */
  const judge = (
    permit: BreakerPermit,
    outcome: BreakerOutcome,
    signal: AbortSignal | undefined,
  ): Promise<void> | undefined => {
    if (signal?.aborted === true) {
      permit.settle('ignore'); // the caller's abort says nothing about the provider
      return undefined;
    }
    let verdict: BreakerVerdict | Promise<BreakerVerdict>;
    try {
      verdict = classify(outcome);
    } catch {
      verdict = 'ignore'; // a throwing classifier proves nothing about the provider
    }
    if (typeof verdict === 'string') {
      permit.settle(verdict);
      return undefined;
    }
    return verdict.then(
      (v) => permit.settle(v),
      () => permit.settle('ignore'),
    );
  };

  return {
    async execute<T>(key: string, fn: (signal?: AbortSignal) => Promise<T>, call: BreakerCallOptions = {}) {
      const permit = acquire(key);
      let value: T;
      try {
        value = await fn(call.signal);
      } catch (error) {
        const judging = judge(permit, { error }, call.signal);
        if (judging !== undefined) await judging;
        throw error;
      }
      const judging = judge(permit, { value }, call.signal);
      if (judging !== undefined) await judging;
      return value;
    },
    acquire,
    isolate(key) {
      const now = Date.now();
      const b = get(key, now);
      b.isolations++;
      b.change('isolated', now, undefined);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          b.isolations--;
          if (b.isolations === 0 && b.state === 'isolated') b.change('closed', Date.now(), undefined);
        },
      };
    },
    reset(key) {
      const now = Date.now();
      for (const b of key === undefined ? entries.values() : [entries.get(key)]) {
        if (b === undefined) continue;
        if (b.state === 'isolated') {
          b.consecutive = 0;
          b.failedProbes = 0;
          b.breakMs = o.cooldownMs;
        } else b.change('closed', now, undefined);
      }
    },
    state(key) {
      const b = entries.get(key);
      if (b === undefined) return 'closed';
      b.advance(Date.now(), undefined);
      return b.state;
    },
    health() {
      const now = Date.now();
      sweep(now);
      return [...entries.values()].map((b) => {
        b.advance(now, undefined);
        return { key: b.key, state: b.state, consecutiveFailures: b.consecutive, retryInMs: b.retryIn(now) };
      });
    },
    get size() {
      sweep(Date.now());
      return entries.size;
    },
    close() {
      entries.clear();
    },
  };
}

let shared: CircuitBreakers | undefined;

/**
 * The process-wide registry every `resilientFetch` uses when given no `breaker`
 * option, so two fetches calling the same host share its breaker. Built on
 * first use with the defaults. Pass your own `circuitBreaker()` to opt out.
 */
export function sharedCircuitBreakers(): CircuitBreakers {
  shared ??= circuitBreaker();
  return shared;
}
