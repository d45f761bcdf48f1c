import pRetry, { AbortError } from 'p-retry';
import { fullJitter } from './backoff';
import { checkFunction, checkNumber, checkOptions, ResilienceError } from './errors';
import {
  definedOnly,
  discard,
  emitter,
  errorCode,
  headerOf,
  hostOf,
  isNetworkError,
  methodOf,
  sleep,
  urlOf,
} from './internal';
import { serverWaitMs } from './rate-limit-headers';
import { type RetryBudget, type RetryBudgetOptions, retryBudget } from './retry-budget';
import type { FetchLike, ResilienceEventHandler, RetryGiveUpEvent } from './types';

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
   * HTTP statuses retried by default.
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
   * Pass a shared {@link RetryBudget}, options for a new one, or false for none.
   * @default retryBudget() (20% of first attempts, 1 per second, burst of 10)
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

/** One call as the retry loop sees it. @internal */
export interface RetryCall {
  input: string | URL | Request;
  init: RequestInit | undefined;
  method: string;
  url: string;
  key: string;
  /** Epoch ms after which no new attempt starts; Infinity for none. */
  deadlineAt: number;
  signal: AbortSignal | undefined;
  emit: ResilienceEventHandler | undefined;
}

/** Sends one attempt. @internal */
export type SendAttempt = (
  input: string | URL | Request,
  init: RequestInit | undefined,
  attempt: number,
) => Promise<Response>;

/** The loop behind a {@link Retry}, for `resilientFetch`. @internal */
export interface RetryEngine extends Retry {
  run(call: RetryCall, send: SendAttempt): Promise<Response>;
  readonly emit: ResilienceEventHandler | undefined;
}

const DEFAULTS = {
  attempts: 3,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
  statuses: [408, 429, 500, 502, 503, 504] as readonly number[],
  idempotentMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'] as readonly string[],
  idempotencyHeader: 'Idempotency-Key',
  generateIdempotencyKey: false as boolean | (() => string),
  maxRetryAfterMs: 60_000,
  key: hostOf,
  random: Math.random,
};

/** Failures that show the request never reached the server, so even an unsafe request may be sent again. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** Marks an attempt that will be retried; never leaves this module. */
class RetryNow extends Error {}

const RETRY_NOW = new RetryNow('retry');

/**
 * Builds a retry policy: exponential backoff with full jitter, server waits
 * honored, idempotency rules and a per-host retry budget (p-retry runs the loop).
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
    o.budget === false ? undefined : isBudget(o.budget) ? o.budget : retryBudget(o.budget ?? {});
  const generate =
    o.generateIdempotencyKey === true
      ? () => crypto.randomUUID()
      : typeof o.generateIdempotencyKey === 'function'
        ? o.generateIdempotencyKey
        : undefined;
  const ownEmit = emitter(o.onEvent);

  /**
   * Decides what follows an attempt: returns the response to hand back,
   * throws the error to hand back, or waits and throws RETRY_NOW.
   */
  const judge = async (
    call: RetryCall,
    safe: boolean,
    attempt: number,
    response: Response | undefined,
    error: unknown,
  ): Promise<Response> => {
    const emit = call.emit;
    const status = response?.status;
    const giveUp = (reason: RetryGiveUpEvent['reason'], waitMs?: number) => {
      const event: RetryGiveUpEvent = { type: 'retry.give_up', at: Date.now(), key: call.key, attempt, reason };
      if (waitMs !== undefined) event.waitMs = waitMs;
      if (status !== undefined) event.status = status;
      if (response === undefined) event.error = error;
      emit?.(event);
    };
    const handBack = (): Response => {
      if (response !== undefined) return response;
      throw error instanceof Error ? new AbortError(error) : error;
    };
    if (call.signal?.aborted) return handBack(); // the caller's abort ends the call, as it is

    const byDefault = response !== undefined ? statuses.has(response.status) : isNetworkError(error);
    let retryable = byDefault;
    const allowed = safe || (response === undefined && NOT_SENT.has(errorCode(error) ?? ''));
    if (!allowed) {
      if (byDefault) giveUp('unsafe_method');
      return handBack();
    }
    if (classify !== undefined) {
      let clone: Response | undefined;
      const ctx: RetryContext = {
        attempt,
        method: call.method,
        url: call.url,
        key: call.key,
        status,
        get response() {
          if (clone === undefined && response !== undefined) clone = response.clone();
          return clone;
        },
        error,
        retryable: byDefault,
      };
      const verdict = await classify(ctx);
      if (typeof verdict === 'boolean') retryable = verdict;
    }
    if (!retryable) {
      if (byDefault) giveUp('not_retryable'); // a classifier vetoed what the default rule would retry
      return handBack();
    }
    if (attempt >= o.attempts) {
      giveUp('attempts_exhausted');
      return handBack();
    }

    const now = Date.now();
    const asked = response === undefined ? undefined : serverWaitMs(response, now);
    const delayMs = asked ?? fullJitter(attempt, o.baseDelayMs, o.maxDelayMs, o.random);
    const fail = (code: 'retry_after_too_long' | 'deadline_exceeded' | 'retry_budget_exhausted', message: string) => {
      giveUp(code, delayMs);
      const details = { key: call.key, waitMs: delayMs, attempts: attempt, cause: error };
      throw new AbortError(
        new ResilienceError(api, code, message, response === undefined ? details : { ...details, response }),
      );
    };
    if (asked !== undefined && asked > o.maxRetryAfterMs) {
      fail(
        'retry_after_too_long',
        `the server asked to wait ${asked} ms, more than maxRetryAfterMs (${o.maxRetryAfterMs})`,
      );
    }
    if (now + delayMs >= call.deadlineAt) {
      fail('deadline_exceeded', `waiting ${delayMs} ms before the next attempt would pass the deadline`);
    }
    if (budget !== undefined && !budget.withdraw(call.key)) {
      fail('retry_budget_exhausted', `the retry budget of ${JSON.stringify(call.key)} is empty`);
    }
    const event = {
      type: 'retry' as const,
      at: now,
      key: call.key,
      attempt,
      delayMs,
      delaySource: asked === undefined ? ('backoff' as const) : ('server' as const),
      ...(status === undefined ? { error } : { status }),
    };
    emit?.(event);
    if (response !== undefined) discard(response);
    if (delayMs > 0) await sleep(delayMs, call.signal);
    throw RETRY_NOW;
  };

  const run = async (call: RetryCall, send: SendAttempt): Promise<Response> => {
    budget?.deposit(call.key);
    let { input, init } = call;
    let safe = safeMethods.has(call.method);
    if (!safe && o.attempts > 1) {
      if (headerOf(input, init, o.idempotencyHeader) !== null) safe = true;
      else if (generate !== undefined) {
        const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
        headers.set(o.idempotencyHeader, generate());
        init = { ...init, headers };
        safe = true;
      }
    }
    if (init?.body instanceof ReadableStream) safe = false; // a stream can be sent once
    // A Request with a body is consumed by sending it: keep a pristine copy for the retries.
    const pristine =
      safe && input instanceof Request && input.body !== null && o.attempts > 1 ? input.clone() : undefined;
    const once = async (attempt: number): Promise<Response> => {
      const attemptInput = pristine !== undefined && attempt > 1 ? pristine.clone() : input;
      let response: Response;
      try {
        response = await send(attemptInput, init, attempt);
      } catch (error) {
        return judge(call, safe, attempt, undefined, error);
      }
      if (classify === undefined && !statuses.has(response.status)) return response;
      return judge(call, safe, attempt, response, undefined);
    };

    // The first attempt runs without p-retry: the success path allocates no retry machinery.
    try {
      return await once(1);
    } catch (error) {
      if (error !== RETRY_NOW) throw error instanceof AbortError ? error.originalError : error;
    }
    const retryOptions = {
      retries: o.attempts - 2,
      minTimeout: 0,
      shouldRetry: ({ error }: { error: Error }) => error === RETRY_NOW,
      ...(call.signal === undefined ? {} : { signal: call.signal }),
    };
    return pRetry((n) => once(n + 1), retryOptions);
  };

  return {
    run,
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
        };
        return run(call, (i, n) => fetch(i, n));
      };
    },
  };
}

function isBudget(value: unknown): value is RetryBudget {
  return typeof value === 'object' && value !== null && typeof (value as RetryBudget).withdraw === 'function';
}
