import { fullJitter } from './backoff';
import { DEFAULT_RETRY_STATUSES, defaultVerdict, type ResponseVerdict } from './classify';
import { checkFunction, checkNumber, checkOptions, ResilienceError } from './errors';
import {
  definedOnly,
  discard,
  emitter,
  errorCode,
  headerOf,
  hostOf,
  isNetworkFailure,
  isStreamBody,
  methodOf,
  sleep,
  urlOf,
} from './internal';
import { serverWaitMs } from './rate-limit-headers';
import { type RetryBudget, type RetryBudgetOptions, retryBudget, sharedRetryBudget } from './retry-budget';
import type { FetchLike, ResilienceEventHandler, RetryEvent, RetryGiveUpEvent } from './types';

/** What a retry classifier sees about one failed or finished attempt. */
export interface RetryContext {
  /** The attempt that just ended, 1-based. */
  readonly attempt: number;
  /** Upper-case HTTP method. */
  readonly method: string;
  readonly url: string;
  /** The group key (host by default). */
  readonly key: string;
  /** The HTTP status, when the attempt got a response. */
  readonly status: number | undefined;
  /**
   * A clone of the attempt's response, made on first access, so a classifier
   * may read the body (`await ctx.response.json()`) without consuming the
   * caller's copy. Undefined when the attempt threw.
   */
  readonly response: Response | undefined;
  /** What the attempt threw, when it threw. */
  readonly error: unknown;
  /** What the default rule decided (status list, network errors, timeouts). */
  readonly retryable: boolean;
  /** The response's classification (`resilientFetch`'s `classify`, or the status rule), when it got one. */
  readonly verdict: ResponseVerdict | undefined;
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /**
   * Attempts in all, the first one included (1 = no retries).
   * @default 3
   */
  attempts?: number;
  /**
   * Backoff base: the first retry waits up to this long (full jitter), doubling per attempt.
   * @default 500
   */
  baseDelayMs?: number;
  /**
   * Backoff cap: no computed wait is longer.
   * @default 20_000
   */
  maxDelayMs?: number;
  /**
   * HTTP statuses retried by default: the default classification calls them
   * `retryable` (429 `throttled`), and another 5xx a `failure`.
   * @default [408, 429, 500, 502, 503, 504]
   */
  statuses?: readonly number[];
  /**
   * Methods safe to retry without an idempotency key.
   * @default ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']
   */
  idempotentMethods?: readonly string[];
  /**
   * The header that makes any other method (POST, PATCH) safe to retry.
   * @default 'Idempotency-Key'
   */
  idempotencyHeader?: string;
  /**
   * Give a request of another method that has no key one: `true` generates a
   * random UUID, a function returns the key. The same key is sent on every attempt.
   * @default false
   */
  generateIdempotencyKey?: boolean | (() => string);
  /**
   * Overrides the default rule: return true to retry, false not to, undefined
   * to keep the default. Called for every attempt of a request that is safe to
   * retry, successful ones included (some APIs report a retryable error in a
   * 200). It never makes an unsafe request retryable.
   */
  shouldRetry?: (ctx: RetryContext) => boolean | undefined | Promise<boolean | undefined>;
  /**
   * The longest server-requested wait honored; a longer `Retry-After` fails at
   * once with `retry_after_too_long`, carrying the wait.
   * @default 60_000
   */
  maxRetryAfterMs?: number;
  /**
   * The retry budget: a token bucket per key that every retry draws from.
   * Pass a {@link RetryBudget}, options for a new one, or false for none.
   * @default sharedRetryBudget(): one process-wide budget (20% of first attempts, 1 per second, burst of 10 per key)
   */
  budget?: RetryBudget | RetryBudgetOptions | false;
  /**
   * Groups requests for the budget and events. Inside `resilientFetch` the
   * policy's own `key` groups every layer, and this one is not used.
   * @default the URL's host
   */
  key?: (url: string) => string;
  /**
   * Source of randomness for the jitter, in [0, 1).
   * @default Math.random
   */
  random?: () => number;
  /** Receives `retry` and `retry.give_up` events. */
  onEvent?: ResilienceEventHandler;
}

/** A retry policy: wraps a fetch so failed attempts are retried by the rules above. */
export interface Retry {
  /** Returns a fetch that retries through this policy. */
  wrap(fetch: FetchLike): FetchLike;
}

/** One call as the retry loop sees it; the loop updates `attempt`, `input` and `init`. @internal */
export interface RetryCall {
  input: string | URL | Request;
  init: RequestInit | undefined;
  readonly method: string;
  readonly url: string;
  readonly key: string;
  /** Epoch ms after which no new attempt starts; Infinity for none. */
  readonly deadlineAt: number;
  readonly signal: AbortSignal | undefined;
  readonly emit: ResilienceEventHandler | undefined;
  /** The attempt being made, 1-based. */
  attempt: number;
  /** Attempts in all for this call, when the call overrides the policy's. */
  readonly attempts: number | undefined;
  /** The classification of the last attempt's response, when a layer below made one. */
  verdict: ResponseVerdict | undefined;
  /** Set by a layer below (an `afterResponse` hook) to ask for the next attempt at once. */
  retryNow?: boolean;
}

/** The loop behind a {@link Retry}, for `resilientFetch`. @internal */
export interface RetryEngine extends Retry {
  /** Runs `send` once per attempt of `call` (its current `input`, `init` and `attempt`). */
  run<C extends RetryCall>(call: C, send: (call: C) => Promise<Response>): Promise<Response>;
  /** The statuses the default classification calls retryable. */
  readonly statuses: ReadonlySet<number>;
  readonly emit: ResilienceEventHandler | undefined;
}

const DEFAULTS = {
  attempts: 3,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
  statuses: DEFAULT_RETRY_STATUSES,
  idempotentMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'] as readonly string[],
  idempotencyHeader: 'Idempotency-Key',
  generateIdempotencyKey: false as boolean | (() => string),
  maxRetryAfterMs: 60_000,
  key: hostOf,
  random: Math.random,
};

/** Failures that show the request never reached the server, so even an unsafe request may be sent again. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * Builds a retry policy: exponential backoff with full jitter, server waits
 * honored, idempotency rules and a per-host retry budget (shared by default).
 *
 * @example
 * ```ts
 * const fetchWithRetry = retry({ attempts: 4, generateIdempotencyKey: true }).wrap(fetch);
 * await fetchWithRetry('https://api.example.com/v1/charges', { method: 'POST', body: '{"amount":1000}' });
 * ```
 */
export function retry(options: RetryOptions = {}): Retry {
  return retryEngine(options);
}

/** @internal */
export function retryEngine(options: RetryOptions): RetryEngine {
  const api = 'retry';
  checkOptions(api, options);
  const o = { ...DEFAULTS, ...definedOnly(options) };
  checkNumber(api, 'attempts', o.attempts, 1, 100);
  if (!Number.isInteger(o.attempts)) checkNumber(api, 'attempts (an integer)', Number.NaN, 1, 100);
  checkNumber(api, 'baseDelayMs', o.baseDelayMs, 0);
  checkNumber(api, 'maxDelayMs', o.maxDelayMs, o.baseDelayMs);
  checkNumber(api, 'maxRetryAfterMs', o.maxRetryAfterMs, 0);
  checkFunction(api, 'shouldRetry', o.shouldRetry);
  checkFunction(api, 'key', o.key);
  checkFunction(api, 'random', o.random);
  checkFunction(api, 'onEvent', o.onEvent);
  if (!Array.isArray(o.statuses) || !o.statuses.every((s) => Number.isInteger(s) && s >= 100 && s <= 599)) {
    throw new ResilienceError(api, 'invalid_options', 'statuses must be an array of HTTP status codes');
  }
  if (!Array.isArray(o.idempotentMethods) || !o.idempotentMethods.every((m) => typeof m === 'string')) {
    throw new ResilienceError(api, 'invalid_options', 'idempotentMethods must be an array of method names');
  }
  if (typeof o.generateIdempotencyKey !== 'boolean' && typeof o.generateIdempotencyKey !== 'function') {
    throw new ResilienceError(api, 'invalid_options', 'generateIdempotencyKey must be a boolean or a function');
  }
  if (o.budget !== undefined && o.budget !== false && (typeof o.budget !== 'object' || o.budget === null)) {
    throw new ResilienceError(api, 'invalid_options', 'budget must be a retryBudget(), its options, or false');
  }
  if (typeof o.idempotencyHeader !== 'string' || o.idempotencyHeader === '') {
    throw new ResilienceError(api, 'invalid_options', 'idempotencyHeader must be a non-empty header name');
  }
  const statuses = new Set(o.statuses);
  const safeMethods = new Set(o.idempotentMethods.map((m) => m.toUpperCase()));
  const classify = o.shouldRetry;
  const budget: RetryBudget | undefined =
    o.budget === false
      ? undefined
      : isBudget(o.budget)
        ? o.budget
        : o.budget === undefined
          ? sharedRetryBudget()
          : retryBudget(o.budget);
  const generate =
    o.generateIdempotencyKey === true
      ? () => crypto.randomUUID()
      : typeof o.generateIdempotencyKey === 'function'
        ? o.generateIdempotencyKey
        : undefined;
  const ownEmit = emitter(o.onEvent);
  /** This policy's own handler and the call's (resilientFetch's), each once. */
  const notify = (call: RetryCall, event: RetryEvent | RetryGiveUpEvent) => {
    ownEmit?.(event);
    if (call.emit !== ownEmit) call.emit?.(event);
  };

  const giveUp = (
    call: RetryCall,
    reason: RetryGiveUpEvent['reason'],
    response: Response | undefined,
    error: unknown,
    waitMs?: number,
  ) => {
    const event: RetryGiveUpEvent = {
      type: 'retry.give_up',
      at: Date.now(),
      key: call.key,
      attempt: call.attempt,
      reason,
    };
    if (waitMs !== undefined) event.waitMs = waitMs;
    if (response !== undefined) event.status = response.status;
    else event.error = error;
    notify(call, event);
  };

  /** Whether the outcome of the attempt just made is worth another attempt (before limits). */
  const wantsRetry = async (
    call: RetryCall,
    response: Response | undefined,
    error: unknown,
    resendable: boolean,
    safe: boolean,
  ): Promise<boolean> => {
    const verdict = response === undefined ? undefined : (call.verdict ?? defaultVerdict(response.status, statuses));
    const byDefault =
      response !== undefined ? verdict === 'retryable' || verdict === 'throttled' : isNetworkFailure(error);
    const allowed = resendable && (safe || (response === undefined && NOT_SENT.has(errorCode(error) ?? '')));
    if (!allowed) {
      if (byDefault) giveUp(call, 'unsafe_method', response, error);
      return false;
    }
    let retryable = byDefault;
    if (classify !== undefined) {
      let clone: Response | undefined;
      const ctx: RetryContext = {
        attempt: call.attempt,
        method: call.method,
        url: call.url,
        key: call.key,
        status: response?.status,
        get response() {
          if (clone === undefined && response !== undefined) clone = response.clone();
          return clone;
        },
        error,
        retryable: byDefault,
        verdict,
      };
      const said = await classify(ctx);
      if (typeof said === 'boolean') retryable = said;
    }
    if (!retryable) {
      if (byDefault) giveUp(call, 'not_retryable', response, error); // a classifier vetoed what the default rule would retry
      return false;
    }
    return true;
  };

  /** The wait before the next attempt, or a ResilienceError when a limit forbids it. */
  const waitFor = (call: RetryCall, response: Response | undefined, error: unknown): number => {
    const now = Date.now();
    const asked = response === undefined ? undefined : serverWaitMs(response, now);
    const delayMs = asked ?? fullJitter(call.attempt, o.baseDelayMs, o.maxDelayMs, o.random);
    const fail = (code: 'retry_after_too_long' | 'deadline_exceeded' | 'retry_budget_exhausted', message: string) => {
      giveUp(call, code, response, error, delayMs);
      const details = { key: call.key, waitMs: delayMs, attempts: call.attempt, cause: error };
      return new ResilienceError(api, code, message, response === undefined ? details : { ...details, response });
    };
    if (asked !== undefined && asked > o.maxRetryAfterMs) {
      throw fail(
        'retry_after_too_long',
        `the server asked to wait ${asked} ms, more than maxRetryAfterMs (${o.maxRetryAfterMs})`,
      );
    }
    if (now + delayMs >= call.deadlineAt) {
      throw fail('deadline_exceeded', `waiting ${delayMs} ms before the next attempt would pass the deadline`);
    }
    if (budget !== undefined && !budget.withdraw(call.key)) {
      throw fail('retry_budget_exhausted', `the retry budget of ${JSON.stringify(call.key)} is empty`);
    }
    const event: RetryEvent = {
      type: 'retry',
      at: now,
      key: call.key,
      attempt: call.attempt,
      delayMs,
      delaySource: asked === undefined ? 'backoff' : 'server',
    };
    if (response !== undefined) event.status = response.status;
    else event.error = error;
    notify(call, event);
    return delayMs;
  };

  /**
   * The loop: send, and after each attempt hand back (a success, a final
   * failure) or wait and send again. A body that can be read only once (a
   * stream, or a `Request` nobody kept a copy of) is never sent twice.
   */
  const run = async <C extends RetryCall>(call: C, send: (call: C) => Promise<Response>): Promise<Response> => {
    budget?.deposit(call.key);
    const attempts = call.attempts ?? o.attempts;
    const input = call.input;
    let safe = safeMethods.has(call.method);
    if (!safe && attempts > 1) {
      if (headerOf(input, call.init, o.idempotencyHeader) !== null) safe = true;
      else if (generate !== undefined) {
        const headers = new Headers(call.init?.headers ?? (input instanceof Request ? input.headers : undefined));
        headers.set(o.idempotencyHeader, generate());
        call.init = { ...call.init, headers };
        safe = true;
      }
    }
    const initBody = call.init?.body;
    const requestBody = initBody === undefined && input instanceof Request && input.body !== null;
    // A Request with a body is consumed by sending it: keep a pristine copy when a retry may follow.
    const pristine = requestBody && safe && attempts > 1 ? (input as Request).clone() : undefined;
    const resendable = !isStreamBody(initBody) && (!requestBody || pristine !== undefined);
    for (;;) {
      let response: Response | undefined;
      let error: unknown;
      call.verdict = undefined;
      try {
        response = await send(call);
      } catch (e) {
        error = e;
      }
      if (call.retryNow === true) {
        call.retryNow = false;
        if (resendable && call.attempt < attempts && call.signal?.aborted !== true) {
          const event: RetryEvent = {
            type: 'retry',
            at: Date.now(),
            key: call.key,
            attempt: call.attempt,
            delayMs: 0,
            delaySource: 'hook',
          };
          if (response !== undefined) event.status = response.status;
          notify(call, event);
          if (response !== undefined) discard(response);
          call.attempt++;
          if (pristine !== undefined) call.input = pristine.clone();
          continue;
        }
      }
      if (response !== undefined && classify === undefined) {
        const verdict = call.verdict ?? defaultVerdict(response.status, statuses);
        if (verdict === 'success' || verdict === 'failure') return response;
      }
      if (call.signal?.aborted || !(await wantsRetry(call, response, error, resendable, safe))) {
        if (response !== undefined) return response;
        throw error;
      }
      if (call.attempt >= attempts) {
        giveUp(call, 'attempts_exhausted', response, error);
        if (response !== undefined) return response;
        throw error;
      }
      const delayMs = waitFor(call, response, error);
      if (response !== undefined) discard(response);
      if (delayMs > 0) await sleep(delayMs, call.signal);
      call.attempt++;
      if (pristine !== undefined) call.input = pristine.clone();
    }
  };

  return {
    run,
    statuses,
    emit: ownEmit,
    wrap(fetch: FetchLike): FetchLike {
      checkFunction(api, 'fetch', fetch);
      return (input, init) => {
        const url = urlOf(input);
        const call: RetryCall = {
          input,
          init,
          method: methodOf(input, init),
          url,
          key: o.key(url),
          deadlineAt: Number.POSITIVE_INFINITY,
          signal: init?.signal ?? (input instanceof Request ? input.signal : undefined),
          emit: ownEmit,
          attempt: 1,
          attempts: undefined,
          verdict: undefined,
        };
        return run(call, (c) => fetch(c.input, c.init));
      };
    },
  };
}

function isBudget(value: unknown): value is RetryBudget {
  return typeof value === 'object' && value !== null && typeof (value as RetryBudget).withdraw === 'function';
}
