import type { Secret } from '../vault/secret';
import { type Cache, type CacheCall, type CacheEngine, type CacheOptions, cacheEngine } from './cache';
import {
  type CircuitBreakerOptions,
  type CircuitBreakers,
  circuitBreaker,
  sharedCircuitBreakers,
} from './circuit-breaker';
import { breakerVerdictOf, type Classifier, defaultVerdict, runClassifier } from './classify';
import { checkFunction, checkNumber, checkOptions, ResilienceError } from './errors';
import { emitter, hostOf, isNetworkFailure, isRequestError, methodOf, urlOf } from './internal';
import { Call, compose, type Layer, type Next } from './pipeline';
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
   * Circuit breakers, one per key: a `circuitBreaker(...)` registry, options for
   * a registry of this fetch's own, or false for none.
   * @default sharedCircuitBreakers(): the process-wide registry (5 failures in a row or 50% of 20 calls, 30 s first break)
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
  /**
   * Receives every decision of every layer during this fetch's calls (retry, wait, breaker
   * change, stale serve, timeout), shared registries included, each with the call's id,
   * method, URL without secrets, attempt and `policy.context`.
   */
  onEvent?: ResilienceEventHandler;
  /**
   * The one classification of each response, shared by retry, breaker and cache
   * (see {@link Classifier}); may be async and read a copy of the body.
   * @default a status in the retry policy's `statuses` is retryable (429 throttled), another 5xx a failure, else a success
   */
  classify?: Classifier;
  /**
   * Runs after each attempt's response. Return `'retry'` to send the call again at
   * once (e.g. after refreshing an OAuth token on a 401): it uses up an attempt, needs
   * the retry layer, and never re-sends a body that can be read only once.
   */
  afterResponse?: (response: Response, ctx: HookContext) => 'retry' | undefined | Promise<'retry' | undefined>;
  /** Runs before each retry, after header sources are resolved again; may change `ctx.headers`. */
  beforeRetry?: (ctx: BeforeRetryContext) => void | Promise<void>;
}

/**
 * Per-call overrides of the policy, given as `init.policy`:
 * `fetch(url, { policy: { deadlineMs: 2_000, attempts: 1, context: { tenant } } })`.
 */
export interface CallPolicy {
  /**
   * Overall time limit of this call, in milliseconds; false for none.
   * @default the policy's `deadlineMs`
   */
  deadlineMs?: number | false;
  /**
   * Time limit of each attempt of this call, in milliseconds; false for none.
   * @default the policy's `timeoutMs`
   */
  timeoutMs?: number | false;
  /**
   * Attempts in all for this call (1 = no retries). Has no effect with `retry: false`.
   * @default the retry policy's `attempts`
   */
  attempts?: number;
  /** Carried by every event of this call (e.g. a tenant or a job id), as `event.context`. */
  context?: unknown;
}

/** The `init` of a call through {@link resilientFetch}: a `RequestInit` plus the call's own policy. */
export interface ResilientRequestInit extends RequestInit {
  /** Overrides for this call only; removed before the request is sent. */
  policy?: CallPolicy;
}

/** What {@link resilientFetch} returns: the signature of `fetch`, with {@link ResilientRequestInit}. */
export type ResilientFetch = (input: string | URL | Request, init?: ResilientRequestInit) => Promise<Response>;

/** What the hooks see about the call. */
export interface HookContext {
  /** The call's id, as events carry it. */
  readonly callId: string;
  /** The attempt the hook runs for, 1-based. */
  readonly attempt: number;
  /** Upper-case HTTP method. */
  readonly method: string;
  readonly url: string;
  /** The group key (host by default). */
  readonly key: string;
  /** What the caller passed as `policy.context`. */
  readonly context: unknown;
}

/** What `beforeRetry` sees: the call, and the headers of the attempt about to be sent, which it may change. */
export interface BeforeRetryContext extends HookContext {
  /** The next attempt's headers (header sources already re-resolved); changes are sent. */
  readonly headers: Headers;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_MS = 2_147_483_647;
const API = 'resilientFetch';

/**
 * Wraps a fetch in a pipeline of named layers, top-down: cache fallback →
 * retry → hooks → circuit breaker → classification → rate limiter →
 * attempt (per-attempt timeout, fetch). Every retry passes through the hooks,
 * the breaker and the limiter again; the deadline bounds the whole call. The
 * result has the signature of the global `fetch`, with an optional
 * `init.policy` for per-call overrides.
 *
 * Unless told otherwise, every `resilientFetch` of the process shares one
 * breaker registry (`sharedCircuitBreakers()`) and one retry budget
 * (`sharedRetryBudget()`): a second fetch for the same host sees the same
 * breaker.
 *
 * @example
 * ```ts
 * const fetch = resilientFetch({
 *   retry: { attempts: 4, generateIdempotencyKey: true },
 *   cache: { maxStaleMs: 3_600_000 },
 *   deadlineMs: 10_000,
 *   onEvent: (e) => console.log(e.type, e.key, e.callId, e.url),
 * });
 * const res = await fetch('https://api.example.com/v1/items', { policy: { deadlineMs: 2_000 } });
 * ```
 */
export function resilientFetch(options: ResilientFetchOptions = {}): ResilientFetch {
  if (typeof options !== 'object' || options === null) {
    throw new ResilienceError(API, 'invalid_options', 'the policy must be an object');
  }
  checkFunction(API, 'fetch', options.fetch);
  checkFunction(API, 'key', options.key);
  checkFunction(API, 'onEvent', options.onEvent);
  checkFunction(API, 'classify', options.classify);
  checkFunction(API, 'afterResponse', options.afterResponse);
  checkFunction(API, 'beforeRetry', options.beforeRetry);
  if (options.deadlineMs !== undefined) checkNumber(API, 'deadlineMs', options.deadlineMs, 1, MAX_MS);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (timeoutMs !== false) checkNumber(API, 'timeoutMs', timeoutMs, 1, MAX_MS);
  const limiter = options.limiter;
  if (limiter !== undefined && typeof limiter.schedule !== 'function') {
    throw new ResilienceError(API, 'invalid_options', 'limiter must implement schedule(fn, options)');
  }
  const onEvent = emitter(options.onEvent);
  const given = options.fetch;
  const fetchImpl: FetchLike = given ?? ((input, init) => globalThis.fetch(input, init));
  const keyOf = options.key ?? hostOf;
  const deadlineMs = options.deadlineMs ?? Number.POSITIVE_INFINITY;
  const attemptMs = timeoutMs === false ? Number.POSITIVE_INFINITY : timeoutMs;
  const headerSources = options.headers === undefined ? undefined : checkHeaders(options.headers);

  const retryEngine = buildRetry(options.retry);
  const cacheEngine = buildCache(options.cache);
  const breakers = buildBreaker(options.breaker);
  const statuses = retryEngine?.statuses;

  // The pipeline, top-down. Layers left out of the policy are left out of the chain.
  const layers: Layer[] = [];
  if (cacheEngine !== undefined) layers.push(cacheLayer(cacheEngine));
  if (retryEngine !== undefined) layers.push(retryLayer(retryEngine));
  if (options.afterResponse !== undefined || options.beforeRetry !== undefined || headerSources !== undefined) {
    layers.push(hooksLayer(options.afterResponse, options.beforeRetry, headerSources));
  }
  if (breakers !== undefined) layers.push(breakerLayer(breakers));
  if (options.classify !== undefined) layers.push(classifyLayer(options.classify, statuses));
  if (limiter !== undefined) layers.push(limiterLayer(limiter));
  const run = compose(layers, attemptStep(fetchImpl, limiter, statuses));

  /** Builds the call's context (per-call policy applied) and runs it down the pipeline. */
  const start = (input: string | URL | Request, init: RequestInit | undefined, policy: CallPolicy | undefined) => {
    const url = urlOf(input);
    const callDeadlineMs =
      policy?.deadlineMs === undefined
        ? deadlineMs
        : policy.deadlineMs === false
          ? Number.POSITIVE_INFINITY
          : policy.deadlineMs;
    const callTimeoutMs =
      policy?.timeoutMs === undefined
        ? attemptMs
        : policy.timeoutMs === false
          ? Number.POSITIVE_INFINITY
          : policy.timeoutMs;
    // The deadline needs no timer of its own: attempts run under min(timeout, what is
    // left of it), a retry never starts a wait that would pass it, and a call held in a
    // limiter's queue is pulled out when it passes (see scheduleBefore).
    const call = new Call(
      input,
      init,
      url,
      methodOf(input, init),
      keyOf(url),
      init?.signal ?? (input instanceof Request ? input.signal : undefined),
      callDeadlineMs === Number.POSITIVE_INFINITY ? callDeadlineMs : Date.now() + callDeadlineMs,
      callTimeoutMs,
      policy?.attempts,
      policy?.context,
      onEvent,
    );
    return run(call);
  };

  // Not an async function: returning the pipeline's own promise saves the extra turns an
  // async wrapper costs on every call. What throws synchronously becomes a rejection.
  return (input, init) => {
    try {
      let policy: CallPolicy | undefined;
      if (init?.policy !== undefined) {
        policy = checkPolicy(init.policy);
        const { policy: _, ...rest } = init;
        init = rest;
      }
      if (headerSources === undefined) return start(input, init, policy);
      return withHeaders(input, init, headerSources).then((withSources) => start(input, withSources, policy));
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

/** Stale-if-error: answers from the cache when everything below failed. */
function cacheLayer(engine: CacheEngine): Layer {
  const own = engine.emit;
  return {
    name: 'cache',
    run(call, next) {
      const emit = own === undefined ? call.emit : call.emit === undefined ? own : emitter(own, call.emit);
      const cacheCall: CacheCall = {
        input: call.input,
        init: call.init,
        method: call.method,
        url: call.url,
        group: call.key,
        emit,
        failed: () => call.failed(),
      };
      return engine.run(cacheCall, () => next(call));
    },
  };
}

/** Retries what the classification calls retryable, when the request is safe to send again. */
function retryLayer(engine: RetryEngine): Layer {
  return { name: 'retry', run: (call, next) => engine.run(call, next) };
}

/**
 * Per attempt: before a retry, re-resolves the header sources (a refreshed
 * token) and runs `beforeRetry`; after a response, runs `afterResponse`, which
 * may ask for one more attempt at once (`'retry'`).
 */
function hooksLayer(
  afterResponse: ResilientFetchOptions['afterResponse'],
  beforeRetry: ResilientFetchOptions['beforeRetry'],
  sources: Array<[string, HeaderSource]> | undefined,
): Layer {
  const contextOf = (call: Call): HookContext => ({
    callId: `call-${call.id}`,
    attempt: call.attempt,
    method: call.method,
    url: call.url,
    key: call.key,
    context: call.context,
  });
  return {
    name: 'hooks',
    async run(call, next) {
      if (call.attempt > 1 && (sources !== undefined || beforeRetry !== undefined)) {
        const headers = new Headers(
          call.init?.headers ?? (call.input instanceof Request ? call.input.headers : undefined),
        );
        if (sources !== undefined) await setHeaders(headers, sources);
        if (beforeRetry !== undefined) await beforeRetry({ ...contextOf(call), headers });
        call.init = { ...call.init, headers };
      }
      const response = await next(call);
      if (afterResponse !== undefined && (await afterResponse(response, contextOf(call))) === 'retry') {
        call.retryNow = true;
      }
      return response;
    },
  };
}

/**
 * Admits the attempt through the key's breaker and settles it with the
 * attempt's one classification: a network failure or timeout is a failure;
 * a local refusal, the caller's abort or a request the fetch refused is ignored.
 */
function breakerLayer(breakers: CircuitBreakers): Layer {
  return {
    name: 'breaker',
    async run(call, next) {
      const permit = breakers.acquire(call.key, call.emit);
      call.probeUntil = permit.expiresAt;
      let response: Response;
      try {
        response = await next(call);
      } catch (error) {
        permit.settle(call.signal?.aborted !== true && isNetworkFailure(error) ? 'failure' : 'ignore');
        throw error;
      } finally {
        call.probeUntil = Number.POSITIVE_INFINITY;
      }
      permit.settle(breakerVerdictOf(call.verdict));
      return response;
    },
  };
}

/** Runs the policy's classifier on each response (it may read a copy of the body). */
function classifyLayer(classify: Classifier, statuses: ReadonlySet<number> | undefined): Layer {
  return {
    name: 'classify',
    async run(call, next) {
      const response = await next(call);
      call.verdict = await runClassifier(classify, response, call, statuses);
      return response;
    },
  };
}

/** Waits for the limiter's budget; the wait is bounded by the deadline and, for a half-open probe, by its time. */
function limiterLayer(limiter: RateLimiter): Layer {
  return {
    name: 'limiter',
    run(call, next) {
      const limitAt = Math.min(call.probeUntil, call.deadlineAt);
      if (limitAt === Number.POSITIVE_INFINITY && call.signal === undefined) {
        return limiter.schedule(() => next(call), { key: call.key });
      }
      return scheduleBefore(limiter, limitAt, call.probeUntil < call.deadlineAt, call, () => next(call));
    },
  };
}

/**
 * The attempt itself: one timer for min(timeout, deadline, probe bound), the
 * fetch, the limiter's `observe`, and the default classification. A TypeError
 * the fetch threw because it could not build the request becomes `invalid_request`.
 */
function attemptStep(
  fetchImpl: FetchLike,
  limiter: RateLimiter | undefined,
  statuses: ReadonlySet<number> | undefined,
): Next {
  const observe = limiter?.observe === undefined ? undefined : limiter.observe.bind(limiter);
  const send = (call: Call): Promise<Response> => {
    const now = Date.now();
    const leftMs = call.deadlineAt - now;
    if (leftMs <= 0) {
      return Promise.reject(
        new ResilienceError('deadline', 'deadline_exceeded', 'the deadline passed before the attempt could start', {
          key: call.key,
          attempts: call.attempt - 1,
        }),
      );
    }
    const probeMs = call.probeUntil - now;
    const attemptMs = probeMs < call.timeoutMs ? Math.max(1, probeMs) : call.timeoutMs;
    if (attemptMs === Number.POSITIVE_INFINITY && leftMs === Number.POSITIVE_INFINITY && call.signal === undefined) {
      const init = call.init;
      return fetchImpl(call.input, init?.signal == null ? init : { ...init, signal: null });
    }
    // no limit but the caller's signal: still guarded, so the abort settles the call even if the fetch ignores it
    const deadlineFirst = leftMs < attemptMs;
    return runWithTimeout(
      (s) => fetchImpl(call.input, { ...call.init, signal: s }),
      Math.ceil(deadlineFirst ? leftMs : attemptMs),
      deadlineFirst ? 'deadline' : 'attempt',
      call.key,
      call.signal,
      call.emit,
    );
  };
  return async (call) => {
    let response: Response;
    try {
      response = await send(call);
    } catch (error) {
      if (call.signal?.aborted !== true && isRequestError(error)) {
        throw new ResilienceError(API, 'invalid_request', `the fetch refused the request: ${error.message}`, {
          key: call.key,
          cause: error,
        });
      }
      throw error;
    }
    observe?.(response, call.key);
    call.verdict = defaultVerdict(response.status, statuses);
    return response;
  };
}

function checkPolicy(policy: CallPolicy): CallPolicy {
  const api = `${API}] [policy`;
  checkOptions(api, policy);
  if (policy.deadlineMs !== undefined && policy.deadlineMs !== false) {
    checkNumber(api, 'deadlineMs', policy.deadlineMs, 1, MAX_MS);
  }
  if (policy.timeoutMs !== undefined && policy.timeoutMs !== false) {
    checkNumber(api, 'timeoutMs', policy.timeoutMs, 1, MAX_MS);
  }
  if (policy.attempts !== undefined) {
    checkNumber(api, 'attempts', policy.attempts, 1, 100);
    if (!Number.isInteger(policy.attempts)) checkNumber(api, 'attempts (an integer)', Number.NaN, 1, 100);
  }
  return policy;
}

// resilientFetch's own onEvent reaches every layer through the call (see Call.emit),
// so a shared retry(...), cache(...) or circuitBreaker(...) keeps its own handler too.
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

function buildBreaker(value: ResilientFetchOptions['breaker']): CircuitBreakers | undefined {
  if (value === false) return undefined;
  if (value === undefined) return sharedCircuitBreakers();
  if (typeof (value as CircuitBreakers).acquire === 'function') return value as CircuitBreakers;
  if (typeof value !== 'object' || value === null) {
    throw new ResilienceError(API, 'invalid_options', 'breaker must be circuitBreaker(...), its options, or false');
  }
  return circuitBreaker(value as CircuitBreakerOptions);
}

/**
 * A limiter's queue bounded by the deadline and the caller's abort. The
 * gate's signal is what the limiter sees; its timer (and the caller's abort
 * listener) are set only when the limiter did not start the call at once, so
 * the usual path costs one controller and no timer. When the gate closes, the
 * call fails at once, even under a limiter that ignores the signal, and a
 * start the limiter grants afterwards sends nothing.
 */
class QueueGate {
  readonly controller = new AbortController();
  started = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Fails the queued call (set once it waits). */
  reject: (reason: unknown) => void = () => {};
  constructor(
    readonly key: string,
    readonly callerSignal: AbortSignal | undefined,
    readonly emit: ResilienceEventHandler | undefined,
    /** The attempt waiting in the queue (1 for the first): the ones before it went out. */
    readonly attempt: number,
  ) {}
  /** The caller aborted while the call was queued. */
  handleEvent(): void {
    this.close(this.callerSignal?.reason);
  }
  /** Pulls the queued call out with `reason`. */
  close(reason: unknown): void {
    this.controller.abort(reason);
    if (!this.started) this.reject(reason);
  }
  /** The limiter started the call (or gave up on it): the gate has no more work. */
  release(): void {
    this.started = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.callerSignal?.removeEventListener('abort', this);
  }
}

function expireGate(gate: QueueGate, limitMs: number, probe: boolean): void {
  if (probe) {
    // A probe that could not even leave the queue proved nothing: the breaker lets another probe through.
    gate.close(
      new ResilienceError(
        'circuitBreaker',
        'circuit_open',
        `the half-open probe waited ${limitMs} ms for the rate limiter, its whole probeTimeoutMs; the breaker stays half-open`,
        { key: gate.key, waitMs: 0 },
      ),
    );
    return;
  }
  gate.emit?.({ type: 'timeout', at: Date.now(), key: gate.key, scope: 'deadline', limitMs });
  gate.close(
    new ResilienceError(
      'deadline',
      'deadline_exceeded',
      'the deadline passed while the call waited for the rate limiter',
      // attempts 0: nothing was sent, the call never left the queue
      { key: gate.key, waitMs: limitMs, attempts: gate.attempt - 1 },
    ),
  );
}

function scheduleBefore(
  limiter: RateLimiter,
  limitAt: number,
  probe: boolean,
  call: Call,
  run: () => Promise<Response>,
): Promise<Response> {
  const { key, signal: callerSignal } = call;
  if (callerSignal?.aborted) return Promise.reject(callerSignal.reason);
  const gate = new QueueGate(key, callerSignal, call.emit, call.attempt);
  const pending = limiter.schedule(
    () => {
      // the gate closed first (a limiter that ignores its signal): the call has failed, nothing is sent
      if (gate.controller.signal.aborted) return Promise.reject(gate.controller.signal.reason);
      gate.release();
      return run();
    },
    { key, signal: gate.controller.signal },
  );
  if (gate.started) return pending; // started at once: no timer, no listener
  return new Promise<Response>((resolve, reject) => {
    gate.reject = reject;
    if (limitAt !== Number.POSITIVE_INFINITY) {
      const leftMs = Math.max(0, limitAt - Date.now());
      gate.timer = setTimeout(expireGate, leftMs, gate, leftMs, probe);
    }
    callerSignal?.addEventListener('abort', gate);
    pending.then(
      (response) => {
        gate.release();
        resolve(response);
      },
      (error: unknown) => {
        gate.release();
        // a gate that closed has rejected already, with the deadline's (or the caller's) reason
        reject(error);
      },
    );
  });
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
  await setHeaders(headers, sources);
  return { ...init, headers };
}

async function setHeaders(headers: Headers, sources: Array<[string, HeaderSource]>): Promise<void> {
  for (const [name, source] of sources) {
    const value = typeof source === 'function' ? await source() : source;
    headers.set(name, typeof value === 'string' ? value : value.reveal());
  }
}
