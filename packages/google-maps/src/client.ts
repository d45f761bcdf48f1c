import {
  type CircuitBreakerOptions,
  type CircuitBreakers,
  circuitBreaker,
  type FetchLike,
  isRateLimitError,
  isResilienceError,
  type RateLimiter,
  type RedisScriptClient,
  type ResilienceEventHandler,
  type ResilientFetch,
  type RetryBudget,
  type RetryBudgetOptions,
  readResponseText,
  resilientFetch,
} from '@ballast/core/resilience';
import { googleMapsClassifier } from './classify';
import {
  type GoogleMapsApi,
  type GoogleMapsError,
  type GoogleMapsErrorCode,
  GoogleMapsUsageError,
  googleMapsError,
} from './errors';
import {
  encodeGeocode,
  type GeocodeRequest,
  type GeocodeResponse,
  type GeocodeResult,
  geocodeBodySchema,
  type PlaceGeocodeRequest,
  parseGeocodeResult,
  type ReverseGeocodeRequest,
} from './geocoding';
import { quotaLimiter } from './pacing';
import {
  type ComputeRouteMatrixRequest,
  type ComputeRoutesRequest,
  type ComputeRoutesResponse,
  encodeRouteMatrix,
  encodeRoutes,
  parseRouteMatrix,
  parseRoutes,
  type RouteMatrixElement,
  type RoutesCallOptions,
  routesErrorOf,
} from './routes';
import { singleFlight } from './single-flight';
import { geocodingErrorCode } from './status';

/** Per-minute quotas, one per API. */
export interface GoogleMapsQuotas {
  /** Geocoding requests per minute. @default 3000 */
  geocoding?: number;
  /** `computeRoutes` requests per minute. @default 3000 */
  routes?: number;
  /** Route-matrix elements (origins × destinations) per minute. @default 3000 */
  routeMatrixElements?: number;
}

/** Options for {@link googleMapsClient}. */
export interface GoogleMapsClientOptions {
  /** The API key: a string, or a vault `Secret` revealed only into the request. Never logged. */
  key: string | { reveal(): string };
  /**
   * The project's quota per minute: one number for every API, or one per API.
   * Calls are paced to it in equal slices (50 per second for 3,000 a minute).
   * @default 3000 (Google's default for Geocoding, computeRoutes and route-matrix elements)
   */
  quotaPerMinute?: number | GoogleMapsQuotas;
  /**
   * Shares the pacing across processes through Redis (core's `redisRateLimiter`,
   * an ioredis client fits): every process using the same Redis and prefix
   * spends one quota.
   */
  redis?: RedisScriptClient;
  /**
   * Prefix of the Redis keys of the shared pacing; give each Google Cloud project its own.
   * @default 'ballast:google-maps:'
   */
  redisKeyPrefix?: string;
  /** A limiter of your own instead of the quota pacing (`false` for none). Route matrices pass their element count as `weight`. */
  limiter?: RateLimiter | false;
  /**
   * The fetch underneath the resilience layers (a fake, a proxy agent).
   * @default the global fetch
   */
  fetch?: FetchLike;
  /**
   * The origins of the APIs (a fake's local server): one URL for both, or one each.
   * @default { geocoding: 'https://maps.googleapis.com', routes: 'https://routes.googleapis.com' }
   */
  baseUrl?: string | { geocoding?: string; routes?: string };
  /**
   * Circuit breaker, one per API: a registry to share, its options, or `false`.
   * @default a registry of this client's own with core's defaults (opens after 5 failures in a row, 30 s first break)
   */
  breaker?: CircuitBreakers | CircuitBreakerOptions | false;
  /**
   * Attempts per call, the first included.
   * @default 4 (three retries)
   */
  attempts?: number;
  /**
   * First retry delay (full jitter, doubling per retry).
   * @default 500
   */
  baseDelayMs?: number;
  /**
   * Longest computed retry delay.
   * @default 10_000
   */
  maxDelayMs?: number;
  /**
   * Time limit of one attempt, in milliseconds.
   * @default 10_000
   */
  timeoutMs?: number;
  /**
   * Time limit of a whole call, in milliseconds: the wait for the quota,
   * every attempt and every retry delay. A call still waiting for the quota
   * when it passes fails `unavailable` without a request.
   * @default none
   */
  deadlineMs?: number;
  /**
   * The retry budget (a shared one, its options, or `false`).
   * @default core's sharedRetryBudget()
   */
  retryBudget?: RetryBudget | RetryBudgetOptions | false;
  /** Receives every retry, wait, breaker and timeout decision (URLs with the key redacted). */
  onEvent?: ResilienceEventHandler;
}

/** Per-call options. */
export interface GoogleMapsCallOptions {
  /** Aborts the call (and its retries); the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A Google Maps Platform client (Geocoding and Routes) on core's resilient fetch. */
export interface GoogleMapsClient {
  /**
   * Geocodes an address (`address`, `components`), a point (`latlng`) or a
   * place id (`placeId`). Resolves with the results (none for
   * `ZERO_RESULTS`); rejects with a `GoogleMapsError`, or a
   * `GoogleMapsUsageError` for a request that cannot be sent.
   */
  geocode(request: GeocodeRequest, options?: GoogleMapsCallOptions): Promise<GeocodeResponse>;
  /** {@link GoogleMapsClient.geocode} for a point. */
  reverseGeocode(request: ReverseGeocodeRequest, options?: GoogleMapsCallOptions): Promise<GeocodeResponse>;
  /** {@link GoogleMapsClient.geocode} for a place id. */
  geocodePlaceId(request: PlaceGeocodeRequest, options?: GoogleMapsCallOptions): Promise<GeocodeResponse>;
  /** Routes API `computeRoutes`, with an explicit field mask (a minimal one by default). */
  computeRoutes(request: ComputeRoutesRequest, options?: RoutesCallOptions): Promise<ComputeRoutesResponse>;
  /** Routes API `computeRouteMatrix`: one element per origin × destination, each with its own status. */
  computeRouteMatrix(request: ComputeRouteMatrixRequest, options?: RoutesCallOptions): Promise<RouteMatrixElement[]>;
  /** The geocoding quota the client paces to: `limit` calls per `intervalMs`. */
  readonly quota: { readonly limit: number; readonly intervalMs: number };
}

const API = 'googleMapsClient';
const DEFAULTS = {
  quota: 3000,
  attempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
  timeoutMs: 10_000,
  redisKeyPrefix: 'ballast:google-maps:',
  geocoding: 'https://maps.googleapis.com',
  routes: 'https://routes.googleapis.com',
} as const;

/** The largest route matrix Google accepts (25 × 25; 100 with TRAFFIC_AWARE_OPTIMAL). */
const MAX_MATRIX_ELEMENTS = 625;

/** The limiter and breaker key of each API (one breaker, one pace per API). @internal */
export const GROUP: Readonly<Record<GoogleMapsApi, string>> = {
  geocoding: 'google-maps:geocoding',
  routes: 'google-maps:routes',
  routeMatrix: 'google-maps:route-matrix',
};

function invalid(message: string): GoogleMapsUsageError {
  return new GoogleMapsUsageError(API, 'invalid_options', message);
}

function count(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalid(`${field} must be an integer from ${min} to ${max}`);
  return value;
}

function origin(value: unknown, field: string): string {
  try {
    if (typeof value !== 'string') throw new TypeError(typeof value);
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(url.protocol);
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  } catch (error) {
    throw new GoogleMapsUsageError(API, 'invalid_options', `${field} must be an http(s) URL`, { cause: error });
  }
}

/** Which API a URL belongs to, from its path. @internal */
export function apiOfUrl(url: string): GoogleMapsApi {
  if (url.includes('/distanceMatrix/')) return 'routeMatrix';
  if (url.includes('/directions/')) return 'routes';
  return 'geocoding';
}

/**
 * Creates a Google Maps Platform client: Geocoding (forward, reverse, place
 * id) and Routes (`computeRoutes`, `computeRouteMatrix`) through core's
 * resilient fetch. Body statuses are classified once per attempt
 * (`ZERO_RESULTS` is an empty success; `OVER_QUERY_LIMIT` backs off and
 * retries; `UNKNOWN_ERROR` retries; `OVER_DAILY_LIMIT`, `REQUEST_DENIED` and
 * `INVALID_REQUEST` are typed errors, never retried and never counted as
 * successes). Routes errors (`google.rpc.Status`) are typed the same way,
 * `RESOURCE_EXHAUSTED` and `UNAVAILABLE` retried with backoff. Calls are
 * paced to the quota (shared through Redis when given), and concurrent
 * identical requests make one call.
 *
 * @throws GoogleMapsUsageError `invalid_options` for a key or setting that cannot work (the key is never echoed).
 * @example
 * ```ts
 * const maps = googleMapsClient({ key: secret(env.GOOGLE_MAPS_KEY) });
 * const { results } = await maps.geocode({ address: '1600 Amphitheatre Parkway, Mountain View, CA' });
 * console.log(results[0]?.placeId, results[0]?.location);
 * ```
 */
export function googleMapsClient(options: GoogleMapsClientOptions): GoogleMapsClient {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  const key = options.key;
  const reveal =
    typeof key === 'string'
      ? () => key
      : typeof (key as { reveal?: unknown } | undefined)?.reveal === 'function'
        ? () => (key as { reveal(): string }).reveal()
        : undefined;
  if (!reveal) throw invalid('key must be a string or a Secret');
  const revealKey: () => string = reveal;
  const raw = revealKey();
  if (typeof raw !== 'string' || raw.length === 0 || /\s/.test(raw))
    throw invalid('key must be a non-empty API key without whitespace');

  const quota = options.quotaPerMinute ?? DEFAULTS.quota;
  const quotas =
    typeof quota === 'number'
      ? { geocoding: quota, routes: quota, routeMatrixElements: quota }
      : typeof quota === 'object' && quota !== null
        ? {
            geocoding: quota.geocoding ?? DEFAULTS.quota,
            routes: quota.routes ?? DEFAULTS.quota,
            routeMatrixElements: quota.routeMatrixElements ?? DEFAULTS.quota,
          }
        : undefined;
  if (!quotas) throw invalid('quotaPerMinute must be a number or { geocoding, routes, routeMatrixElements }');
  const matrixQuota = quotas.routeMatrixElements;
  count(quotas.geocoding, 'quotaPerMinute.geocoding', 1, 1_000_000);
  count(quotas.routes, 'quotaPerMinute.routes', 1, 1_000_000);
  count(quotas.routeMatrixElements, 'quotaPerMinute.routeMatrixElements', 1, 10_000_000);
  const attempts = count(options.attempts ?? DEFAULTS.attempts, 'attempts', 1, 10);
  const baseDelayMs = count(options.baseDelayMs ?? DEFAULTS.baseDelayMs, 'baseDelayMs', 0, 60_000);
  const maxDelayMs = count(options.maxDelayMs ?? DEFAULTS.maxDelayMs, 'maxDelayMs', baseDelayMs, 600_000);
  const timeoutMs = count(options.timeoutMs ?? DEFAULTS.timeoutMs, 'timeoutMs', 1, 600_000);
  const deadlineMs =
    options.deadlineMs === undefined ? undefined : count(options.deadlineMs, 'deadlineMs', 1, 3_600_000);
  if (options.fetch !== undefined && typeof options.fetch !== 'function') throw invalid('fetch must be a function');
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function')
    throw invalid('onEvent must be a function');
  if (
    options.redis !== undefined &&
    (typeof options.redis !== 'object' || options.redis === null || typeof options.redis.evalsha !== 'function')
  )
    throw invalid('redis must be a Redis client (ioredis)');
  const redisKeyPrefix = options.redisKeyPrefix ?? DEFAULTS.redisKeyPrefix;
  if (typeof redisKeyPrefix !== 'string' || redisKeyPrefix === '')
    throw invalid('redisKeyPrefix must be a non-empty string');
  if (
    options.limiter !== undefined &&
    options.limiter !== false &&
    typeof (options.limiter as { schedule?: unknown } | null)?.schedule !== 'function'
  )
    throw invalid('limiter must be a rate limiter (schedule) or false');
  const base =
    typeof options.baseUrl === 'object' && options.baseUrl !== null
      ? {
          geocoding: origin(options.baseUrl.geocoding ?? DEFAULTS.geocoding, 'baseUrl.geocoding'),
          routes: origin(options.baseUrl.routes ?? DEFAULTS.routes, 'baseUrl.routes'),
        }
      : options.baseUrl === undefined
        ? { geocoding: DEFAULTS.geocoding, routes: DEFAULTS.routes }
        : { geocoding: origin(options.baseUrl, 'baseUrl'), routes: origin(options.baseUrl, 'baseUrl') };

  let breaker: CircuitBreakers | false;
  if (options.breaker === false) breaker = false;
  else if (options.breaker !== undefined && typeof (options.breaker as CircuitBreakers).acquire === 'function')
    breaker = options.breaker as CircuitBreakers;
  else breaker = circuitBreaker((options.breaker as CircuitBreakerOptions | undefined) ?? {});

  const pacing = { redis: options.redis, redisKeyPrefix, onEvent: options.onEvent };
  const limiters: Record<GoogleMapsApi, RateLimiter> | undefined =
    options.limiter === false
      ? undefined
      : options.limiter
        ? { geocoding: options.limiter, routes: options.limiter, routeMatrix: options.limiter }
        : {
            geocoding: quotaLimiter(quotas.geocoding, 1, pacing),
            routes: quotaLimiter(quotas.routes, 1, pacing),
            routeMatrix: quotaLimiter(
              quotas.routeMatrixElements,
              Math.min(MAX_MATRIX_ELEMENTS, quotas.routeMatrixElements),
              pacing,
            ),
          };
  const geocodePace = quotaPace(quotas.geocoding);

  /** One resilient fetch per weight (route matrices weigh their element count). */
  const build = (weight: number): ResilientFetch => {
    const limiter: RateLimiter | undefined =
      limiters === undefined
        ? undefined
        : {
            schedule: (fn, o) => {
              const api =
                o?.key === GROUP.routes ? 'routes' : o?.key === GROUP.routeMatrix ? 'routeMatrix' : 'geocoding';
              return limiters[api].schedule(fn, weight === 1 ? o : { ...o, weight });
            },
          };
    return resilientFetch({
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(limiter ? { limiter } : {}),
      breaker,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(deadlineMs === undefined ? {} : { deadlineMs }),
      timeoutMs,
      key: (url) => GROUP[apiOfUrl(url)],
      classify: googleMapsClassifier,
      retry: {
        attempts,
        baseDelayMs,
        maxDelayMs,
        // computeRoutes and computeRouteMatrix are POSTs that change nothing: safe to send again.
        idempotentMethods: ['GET', 'HEAD', 'POST'],
        ...(options.retryBudget === undefined ? {} : { budget: options.retryBudget }),
      },
    });
  };
  const send = build(1);
  const flights = singleFlight();

  async function call(
    api: GoogleMapsApi,
    what: string,
    url: string,
    init: RequestInit,
    signal: AbortSignal,
    fetcher: ResilientFetch = send,
  ): Promise<Response> {
    try {
      // the attempt's timeout ends with the headers: the body gets as long again, read here so that a
      // Google (or proxy) that stalls or breaks mid-body is `unavailable` like any other lost answer
      return await buffered(await fetcher(url, { ...init, signal }), timeoutMs, signal);
    } catch (error) {
      throw await failureOf(api, error, what, signal, timeoutMs, deadlineMs);
    }
  }

  async function geocode(request: GeocodeRequest, callOptions: GoogleMapsCallOptions = {}): Promise<GeocodeResponse> {
    const encoded = encodeGeocode('geocode', request);
    const what = `geocode (${encoded.kind})`;
    const result = await flights.run(`geocode:${encoded.flightKey}`, callOptions.signal, async (signal) => {
      const url = `${base.geocoding}/maps/api/geocode/json?${encoded.query}&key=${encodeURIComponent(revealKey())}`;
      const response = await call(
        'geocoding',
        what,
        url,
        { method: 'GET', headers: { accept: 'application/json' } },
        signal,
      );
      return readGeocode(response, what);
    });
    return structuredClone(result);
  }

  async function computeRoutes(
    request: ComputeRoutesRequest,
    callOptions: RoutesCallOptions = {},
  ): Promise<ComputeRoutesResponse> {
    const encoded = encodeRoutes('computeRoutes', request, callOptions);
    const result = await flights.run(`routes:${encoded.flightKey}`, callOptions.signal, async (signal) => {
      const response = await call(
        'routes',
        'computeRoutes',
        `${base.routes}/directions/v2:computeRoutes`,
        { method: 'POST', headers: routesHeaders(encoded.fieldMask), body: encoded.body },
        signal,
      );
      if (!response.ok) throw await routesErrorOf('routes', response, 'computeRoutes');
      return parseRoutes(response, 'computeRoutes');
    });
    return structuredClone(result);
  }

  async function computeRouteMatrix(
    request: ComputeRouteMatrixRequest,
    callOptions: RoutesCallOptions = {},
  ): Promise<RouteMatrixElement[]> {
    const encoded = encodeRouteMatrix('computeRouteMatrix', request, callOptions);
    if (limiters !== undefined && options.limiter === undefined && encoded.elements > matrixQuota)
      throw new GoogleMapsUsageError(
        'computeRouteMatrix',
        'invalid_params',
        `the matrix has ${encoded.elements} elements, more than quotaPerMinute.routeMatrixElements (${matrixQuota})`,
      );
    const result = await flights.run(`matrix:${encoded.flightKey}`, callOptions.signal, async (signal) => {
      const response = await call(
        'routeMatrix',
        'computeRouteMatrix',
        `${base.routes}/distanceMatrix/v2:computeRouteMatrix`,
        { method: 'POST', headers: routesHeaders(encoded.fieldMask), body: encoded.body },
        signal,
        // The matrix spends its element count of the quota: a fetch whose limiter weighs it so.
        limiters === undefined ? send : build(encoded.elements),
      );
      if (!response.ok) throw await routesErrorOf('routeMatrix', response, 'computeRouteMatrix');
      return parseRouteMatrix(response, 'computeRouteMatrix');
    });
    return structuredClone(result);
  }

  function routesHeaders(fieldMask: string): Record<string, string> {
    return {
      'content-type': 'application/json',
      accept: 'application/json',
      'x-goog-api-key': revealKey(),
      'x-goog-fieldmask': fieldMask,
    };
  }

  return {
    geocode,
    reverseGeocode: (request, o) => geocode(request, o),
    geocodePlaceId: (request, o) => geocode(request, o),
    computeRoutes,
    computeRouteMatrix,
    quota: geocodePace,
  };
}

function quotaPace(perMinute: number): { limit: number; intervalMs: number } {
  return Object.freeze({ limit: perMinute, intervalMs: 60_000 });
}

async function readGeocode(response: Response, what: string): Promise<GeocodeResponse> {
  const api = 'geocoding';
  if (response.status !== 200) {
    const body = await readJson(response);
    const parsed = geocodeBodySchema.safeParse(body);
    const status = parsed.success ? parsed.data.status : undefined;
    const code: GoogleMapsErrorCode =
      response.status >= 500 || response.status === 408
        ? 'unavailable'
        : response.status === 429
          ? 'rate_limited'
          : response.status === 401 || response.status === 403
            ? 'denied'
            : response.status === 404
              ? 'not_found'
              : response.status === 400
                ? 'invalid_request'
                : 'invalid_response';
    throw googleMapsError(code, `${what}: Google answered HTTP ${response.status}${status ? ` (${status})` : ''}`, {
      api,
      status,
      httpStatus: response.status,
      googleMessage: parsed.success ? parsed.data.error_message : undefined,
    });
  }
  const body = await readJson(response);
  const parsed = geocodeBodySchema.safeParse(body);
  if (!parsed.success)
    throw googleMapsError('invalid_response', `${what}: the answer is not a Geocoding API body`, {
      api,
      httpStatus: 200,
      cause: parsed.error,
    });
  const { status, error_message: googleMessage } = parsed.data;
  if (status === 'ZERO_RESULTS') return { status, results: [] };
  if (status !== 'OK') {
    const code = geocodingErrorCode(status);
    throw googleMapsError(
      code,
      `${what}: Google answered ${status}${googleMessage ? `: ${googleMessage}` : ''}${
        code === 'rate_limited' || code === 'unavailable' ? ' (retries spent)' : ''
      }`,
      { api, status, httpStatus: 200, googleMessage },
    );
  }
  const results: GeocodeResult[] = [];
  try {
    for (const raw of parsed.data.results) results.push(parseGeocodeResult(raw));
  } catch (error) {
    throw googleMapsError('invalid_response', `${what}: a result is not a Geocoding API result`, {
      api,
      status,
      httpStatus: 200,
      cause: error,
    });
  }
  return { status: 'OK', results };
}

/** The JSON of a response, or undefined when it has none. @internal */
export async function readJson(response: Response): Promise<unknown> {
  try {
    const text = await response.text();
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

/**
 * What a call that got no usable response rejects with: the caller's abort
 * reason; for an answer a layer gave up on (retry budget, deadline), the
 * error that answer means; a breaker refusal, timeout or network failure as
 * `unavailable`; a limiter refusal as `rate_limited`.
 */
/** The response with its body read in full within `timeoutMs` (a read that fails rejects). */
async function buffered(response: Response, timeoutMs: number, signal: AbortSignal | undefined): Promise<Response> {
  const text = await readResponseText(response, { timeoutMs, ...(signal ? { signal } : {}) });
  const init = { status: response.status, statusText: response.statusText, headers: response.headers };
  return new Response(text === '' ? null : text, init);
}

async function failureOf(
  api: GoogleMapsApi,
  error: unknown,
  what: string,
  signal: AbortSignal | undefined,
  timeoutMs: number,
  deadlineMs: number | undefined,
): Promise<unknown> {
  if (signal?.aborted) return signal.reason;
  if (isResilienceError(error)) {
    if (error.response) {
      const given = error.response;
      // a body that does not arrive reads as none: the status still says what happened
      const last = await buffered(given, timeoutMs, signal).catch(
        () => new Response(null, { status: given.status, headers: given.headers }),
      );
      const failure: GoogleMapsError | undefined =
        api === 'geocoding'
          ? await readGeocode(last, what).then(
              () => undefined,
              (e: GoogleMapsError) => e,
            )
          : await routesErrorOf(api, last, what);
      if (failure) return Object.assign(failure, { cause: error });
    }
    if (error.code === 'circuit_open')
      return googleMapsError(
        'unavailable',
        `${what} was not sent: the circuit breaker for Google is open${waitText(error.waitMs)}`,
        {
          api,
          waitMs: error.waitMs,
          cause: error,
        },
      );
    if (error.code === 'invalid_options' || error.code === 'invalid_request') return error;
    if (error.code === 'deadline_exceeded') {
      // attempts 0: the call never left the quota's queue
      const how =
        error.attempts === 0
          ? `was not sent: its deadlineMs (${deadlineMs} ms) passed while it waited for the quota`
          : `got no answer from Google within its deadlineMs (${deadlineMs} ms)`;
      return googleMapsError('unavailable', `${what} ${how}`, { api, cause: error });
    }
    return googleMapsError('unavailable', `${what} got no answer from Google: ${error.code}`, { api, cause: error });
  }
  if (isRateLimitError(error))
    return googleMapsError(
      'rate_limited',
      `${what} was not sent: the rate limiter refused it (${error.code})${waitText(error.waitMs)}`,
      { api, waitMs: error.waitMs, cause: error },
    );
  return googleMapsError('unavailable', `${what} got no answer from Google: ${describe(error)}`, { api, cause: error });
}

function waitText(waitMs: number | undefined): string {
  return waitMs === undefined ? '' : `; retry in ${Math.ceil(waitMs)} ms`;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error.cause as { code?: unknown } | undefined)?.code;
    // Only the error's kind: a network error's message may quote the URL, which carries the key.
    return typeof code === 'string' ? `${error.name} (${code})` : error.name;
  }
  return typeof error;
}
