import { isRateLimitError, isResilienceError, readResponseText } from '@ballast/core/resilience';
import {
  StripeCircuitOpenError,
  StripeConnectionError,
  type StripeError,
  StripeLimiterError,
  StripeUsageError,
  stripeErrorFromResponse,
} from './errors';
import {
  DEFAULTS as FETCH_DEFAULTS,
  invalidOptions,
  type StripeResilienceOptions,
  stripeResilientFetch,
} from './fetch';
import { encodeStripeParams, type StripeParams } from './form';
import { type StripeMode, stripeMode } from './limits';

/** Options for {@link stripeClient}: the key and version, plus the resilience settings of {@link stripeFetch}. */
export interface StripeClientOptions extends StripeResilienceOptions {
  /** A secret or restricted key (`sk_…`, `rk_…`): a string, or a vault `Secret` revealed only into the header. */
  apiKey: string | { reveal(): string };
  /** The API version every request pins with `Stripe-Version`, e.g. `2026-10-28.endive`. */
  apiVersion: string;
  /** A connected account to act as (`Stripe-Account: acct_…`). */
  account?: string;
  /**
   * The API origin.
   * @default 'https://api.stripe.com'
   */
  baseUrl?: string;
}

/** Per-request options. */
export interface StripeRequestOptions {
  /** The Idempotency-Key of a POST. @default a new UUID per call, the same on each retry */
  idempotencyKey?: string;
  /** Overrides the client's `Stripe-Account`. */
  account?: string;
  /** Overrides the client's `Stripe-Version`. */
  apiVersion?: string;
  /** Aborts the request (and its retries). */
  signal?: AbortSignal;
}

/** A page of a Stripe list endpoint. */
export interface StripeList<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

/** HTTP methods Stripe's v1 API uses. */
export type StripeMethod = 'GET' | 'POST' | 'DELETE';

/** A Stripe API client built on core's resilient fetch. */
export interface StripeClient {
  /** `live` or `test`, read from the key. */
  readonly mode: StripeMode;
  /** Sends one request; resolves with the parsed JSON or rejects with a typed `StripeError`. */
  request<T = Record<string, unknown>>(
    method: StripeMethod,
    path: string,
    params?: StripeParams,
    options?: StripeRequestOptions,
  ): Promise<T>;
  /** `GET path?params`. */
  get<T = Record<string, unknown>>(path: string, params?: StripeParams, options?: StripeRequestOptions): Promise<T>;
  /** `POST path` with form-encoded params and an Idempotency-Key. */
  post<T = Record<string, unknown>>(path: string, params?: StripeParams, options?: StripeRequestOptions): Promise<T>;
  /** `DELETE path`. */
  delete<T = Record<string, unknown>>(path: string, params?: StripeParams, options?: StripeRequestOptions): Promise<T>;
  /**
   * Pages through a list endpoint (`has_more` + `starting_after`, 100 per page
   * unless `limit` is given); with `ending_before` it pages backwards.
   */
  pages<T extends { id: string }>(
    path: string,
    params?: StripeParams,
    options?: StripeRequestOptions,
  ): AsyncGenerator<StripeList<T>, void, undefined>;
  /** Every object of a list endpoint, one at a time, fetching pages as needed. */
  list<T extends { id: string }>(
    path: string,
    params?: StripeParams,
    options?: StripeRequestOptions,
  ): AsyncGenerator<T, void, undefined>;
}

const API = 'stripeClient';
const VERSION = /^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/;
const ACCOUNT = /^acct_[A-Za-z0-9]+$/;
const PATH = /^\/v1\/[A-Za-z0-9_./-]+$/;

const DEFAULTS = { baseUrl: 'https://api.stripe.com' } as const;

function invalid(message: string): StripeUsageError {
  return invalidOptions(API, message);
}

function checkAccount(account: unknown, field: string): string | undefined {
  if (account === undefined) return undefined;
  if (typeof account !== 'string' || !ACCOUNT.test(account)) throw invalid(`${field} must look like acct_…`);
  return account;
}

function checkVersion(version: unknown, field: string): string {
  if (typeof version !== 'string' || !VERSION.test(version))
    throw invalid(`${field} must be a Stripe API version such as 2026-10-28.endive`);
  return version;
}

/**
 * Creates a Stripe API client: form-encoded requests with Bearer auth,
 * `Stripe-Version` and `Stripe-Account`, through core's resilient fetch with
 * Stripe's retry rule (see {@link stripeShouldRetry}), an Idempotency-Key on
 * every POST (the same on its retries), a rate limiter at Stripe's limit for
 * the key's mode, typed errors and auto-pagination.
 *
 * @throws StripeUsageError `invalid_options` for a key, version, account or
 *   setting that cannot work (the key is never echoed).
 * @example
 * ```ts
 * const stripe = stripeClient({ apiKey: secret(env.STRIPE_KEY), apiVersion: '2026-10-28.endive' });
 * const customer = await stripe.post<{ id: string }>('/v1/customers', { email: 'ada@example.com' });
 * for await (const invoice of stripe.list<{ id: string }>('/v1/invoices', { customer: customer.id })) {
 *   console.log(invoice.id);
 * }
 * ```
 */
export function stripeClient(options: StripeClientOptions): StripeClient {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  const key = options.apiKey;
  const revealKey =
    typeof key === 'string' ? () => key : typeof key?.reveal === 'function' ? () => key.reveal() : undefined;
  if (!revealKey) throw invalid('apiKey must be a string or a Secret');
  let mode: StripeMode;
  try {
    mode = stripeMode(revealKey());
  } catch (error) {
    throw new StripeUsageError(API, 'invalid_options', 'apiKey is not a Stripe secret or restricted key', {
      cause: error,
    });
  }
  if (revealKey().startsWith('pk_'))
    throw invalid('apiKey is a publishable key; the API needs a secret (sk_) or restricted (rk_) key');
  const apiVersion = checkVersion(options.apiVersion, 'apiVersion');
  const account = checkAccount(options.account, 'account');
  const settings: { baseUrl: string } = { baseUrl: DEFAULTS.baseUrl };
  if (options.baseUrl !== undefined) {
    try {
      const url = new URL(options.baseUrl);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(url.protocol);
      settings.baseUrl = url.origin;
    } catch (error) {
      throw new StripeUsageError(API, 'invalid_options', 'baseUrl must be an http(s) URL', { cause: error });
    }
  }
  const send = stripeResilientFetch(API, options, mode, {
    headers: { authorization: () => `Bearer ${revealKey()}` },
  });
  // the attempt's timeout ends with the headers: the body gets as long again, so a Stripe (or proxy)
  // that stalls mid-body cannot hold the call forever
  const bodyTimeoutMs = options.timeoutMs ?? FETCH_DEFAULTS.timeoutMs;

  async function request<T>(
    method: StripeMethod,
    path: string,
    params: StripeParams = {},
    call: StripeRequestOptions = {},
  ): Promise<T> {
    if (method !== 'GET' && method !== 'POST' && method !== 'DELETE')
      throw new StripeUsageError(API, 'invalid_params', `method must be GET, POST or DELETE, got ${String(method)}`);
    if (typeof path !== 'string' || !PATH.test(path))
      throw new StripeUsageError(
        API,
        'invalid_params',
        `path must look like /v1/customers/cus_123, got ${JSON.stringify(path)}`,
      );
    const encoded = encodeStripeParams(params);
    const headers = new Headers({
      'stripe-version': call.apiVersion === undefined ? apiVersion : checkVersion(call.apiVersion, 'apiVersion'),
      accept: 'application/json',
    });
    const onBehalf = checkAccount(call.account, 'account') ?? account;
    if (onBehalf) headers.set('stripe-account', onBehalf);
    let url = `${settings.baseUrl}${path}`;
    let body: string | undefined;
    if (method === 'POST') {
      const idempotencyKey = call.idempotencyKey ?? crypto.randomUUID();
      if (typeof idempotencyKey !== 'string' || idempotencyKey.length === 0 || idempotencyKey.length > 255)
        throw new StripeUsageError(API, 'invalid_params', 'idempotencyKey must be 1 to 255 characters');
      headers.set('idempotency-key', idempotencyKey);
      headers.set('content-type', 'application/x-www-form-urlencoded');
      body = encoded;
    } else if (encoded) {
      url += `?${encoded}`;
    }

    let response: Response;
    try {
      response = await send(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(call.signal ? { signal: call.signal } : {}),
      });
    } catch (error) {
      throw await failureOf(error, `${method} ${path}`, call.signal, bodyTimeoutMs);
    }
    let text: string;
    try {
      text = await readResponseText(response, {
        timeoutMs: bodyTimeoutMs,
        ...(call.signal ? { signal: call.signal } : {}),
      });
    } catch (error) {
      if (call.signal?.aborted) throw call.signal.reason;
      throw new StripeConnectionError(
        'connection',
        `${method} ${path} answered ${response.status} but its body did not arrive: ${describe(error)}`,
        { status: response.status, requestId: response.headers.get('request-id') ?? undefined, cause: error },
      );
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch (error) {
      json = undefined;
      if (response.ok)
        throw new StripeConnectionError(
          'invalid_response',
          `${method} ${path} answered ${response.status} with a body that is not JSON`,
          {
            status: response.status,
            requestId: response.headers.get('request-id') ?? undefined,
            cause: error,
          },
        );
    }
    if (!response.ok) throw stripeErrorFromResponse(response.status, json, response.headers);
    if (typeof json !== 'object' || json === null)
      throw new StripeConnectionError(
        'invalid_response',
        `${method} ${path} answered ${response.status} without a JSON object`,
        {
          status: response.status,
          requestId: response.headers.get('request-id') ?? undefined,
        },
      );
    return json as T;
  }

  async function* pages<T extends { id: string }>(
    path: string,
    params: StripeParams = {},
    call: StripeRequestOptions = {},
  ): AsyncGenerator<StripeList<T>, void, undefined> {
    const backwards = params.ending_before !== undefined && params.ending_before !== null;
    let query: StripeParams = { limit: 100, ...params };
    for (;;) {
      const page = await request<StripeList<T>>('GET', path, query, call);
      if (page.object !== 'list' || !Array.isArray(page.data) || typeof page.has_more !== 'boolean')
        throw new StripeConnectionError('invalid_response', `GET ${path} did not answer a list`);
      const edge = backwards ? page.data[0] : page.data.at(-1);
      // A page that ends where it started would be asked for again and again.
      if (page.has_more && edge && edge.id === (backwards ? query.ending_before : query.starting_after))
        throw new StripeConnectionError(
          'invalid_response',
          `GET ${path} answered has_more after ${edge.id} with ${edge.id} again`,
        );
      yield page;
      if (!page.has_more || !edge) return;
      query = backwards ? { ...query, ending_before: edge.id } : { ...query, starting_after: edge.id };
    }
  }

  async function* list<T extends { id: string }>(
    path: string,
    params: StripeParams = {},
    call: StripeRequestOptions = {},
  ): AsyncGenerator<T, void, undefined> {
    const backwards = params.ending_before !== undefined && params.ending_before !== null;
    for await (const page of pages<T>(path, params, call)) {
      // Backwards pages come newest first; walk them oldest first so the order stays continuous.
      const items = backwards ? [...page.data].reverse() : page.data;
      yield* items;
    }
  }

  return {
    mode,
    request,
    get: (path, params, call) => request('GET', path, params, call),
    post: (path, params, call) => request('POST', path, params, call),
    delete: (path, params, call) => request('DELETE', path, params, call),
    pages,
    list,
  };
}

/**
 * What a call that got no usable response rejects with. Only a failure to
 * reach Stripe is a `StripeConnectionError`: a caller's abort rejects with its
 * reason (as `fetch` does), and a breaker or limiter refusal, which sent
 * nothing and is refused again if retried at once, gets its own class.
 */
async function failureOf(
  error: unknown,
  call: string,
  signal: AbortSignal | undefined,
  bodyTimeoutMs: number,
): Promise<unknown> {
  if (signal?.aborted) return signal.reason;
  if (isResilienceError(error)) {
    // A layer that gave up on an HTTP answer (retry budget, deadline) hands it back: report Stripe's error.
    if (error.response) {
      const last = error.response;
      const failure: StripeError = stripeErrorFromResponse(
        last.status,
        await readJson(last, bodyTimeoutMs),
        last.headers,
      );
      return Object.assign(failure, { cause: error });
    }
    if (error.code === 'circuit_open') {
      return new StripeCircuitOpenError(
        'circuit_open',
        `${call} was not sent: the circuit breaker for Stripe is open${waitText(error.waitMs)}`,
        { cause: error, waitMs: error.waitMs },
      );
    }
  }
  if (isRateLimitError(error)) {
    return new StripeLimiterError(
      'limiter_refused',
      `${call} was not sent: the rate limiter refused it (${error.code})${waitText(error.waitMs)}`,
      { cause: error, waitMs: error.waitMs },
    );
  }
  return new StripeConnectionError('connection', `${call} got no answer from Stripe: ${describe(error)}`, {
    cause: error,
  });
}

function waitText(waitMs: number | undefined): string {
  return waitMs === undefined ? '' : `; retry in ${Math.ceil(waitMs)} ms`;
}

/** The JSON of an answer a layer gave up on; a body that does not arrive in time reads as none. */
async function readJson(response: Response, timeoutMs: number): Promise<unknown> {
  try {
    return JSON.parse(await readResponseText(response, { timeoutMs }));
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error.cause as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
