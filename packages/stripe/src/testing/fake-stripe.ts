import { serveFetch } from '@ballast/core/testing';
import { StripeUsageError } from '../errors';
import { decodeStripeForm } from '../form';
import { FakeApiError, invalid, type JsonObject, type Params } from './params';
import { seededRandom } from './random';
import { completeSession, type LineItem, type ResourceContext, routes } from './resources';
import { createStore, expand } from './store';

/** A fault the fake injects instead of answering normally. */
export type FakeFault =
  /** The connection is reset: no response at all (`fetch` rejects). */
  | { kind: 'connection' }
  /** A 429 with `code: lock_timeout` and `Stripe-Should-Retry: true`, as Stripe answers under lock contention. */
  | { kind: 'lock_timeout' }
  /** Any status with Stripe's error body. */
  | {
      kind: 'status';
      status: number;
      /** @default api_error for 5xx, invalid_request_error otherwise */
      type?: string;
      code?: string;
      message?: string;
      /** Sends `Stripe-Should-Retry` with this value. */
      shouldRetry?: boolean;
      /**
       * Answer after the idempotency layer, so the failure is saved and
       * replayed to retries with the same key (Stripe saves 500s once the
       * endpoint started executing).
       * @default false
       */
      saved?: boolean;
    };

/** Which requests a fault applies to, and how often. */
export interface FakeFaultOptions {
  /** @default 1 */
  times?: number;
  /** Only requests with this method. */
  method?: string;
  /** Only requests whose path matches. */
  path?: string | RegExp;
}

/** Options for {@link createFakeStripe}. */
export interface FakeStripeOptions {
  /**
   * The fake's clock in milliseconds: object and event `created` times, the
   * rate limiter's window and the 30-day event window read it.
   * @default Date.now
   */
  now?: () => number;
  /**
   * Seed for object ids, so runs repeat exactly.
   * @default 1
   */
  seed?: number;
  /**
   * The account's API version, used to render events.
   * @default '2026-10-28.endive'
   */
  apiVersion?: string;
  /**
   * Requests per second per API key and account, as Stripe's global limiter;
   * `false` turns it off.
   * @default { live: 100, test: 25 }
   */
  rateLimit?: { live: number; test: number } | false;
  /**
   * The only API keys accepted; any other well-formed key gets 401.
   * @default any key shaped like sk_test_… / sk_live_… / rk_…
   */
  apiKeys?: readonly string[];
  /**
   * How far back `/v1/events` reaches, in days.
   * @default 30
   */
  eventRetentionDays?: number;
}

/** A request the fake received, for assertions. */
export interface FakeRequestRecord {
  method: string;
  path: string;
  status: number;
  idempotencyKey: string | null;
  stripeVersion: string | null;
  stripeAccount: string | null;
  /** True when the answer was an idempotent replay. */
  replayed: boolean;
}

/** A webhook endpoint registered with the fake (used by the webhook sender). */
export interface FakeEndpointRegistration {
  readonly id: string;
  /** Marks one event as delivered to this endpoint (it stops counting in `pending_webhooks`). */
  delivered(eventId: string): void;
  /** Stops receiving events. */
  close(): void;
}

/** A running fake server. */
export interface FakeStripeServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A fake Stripe API: objects, events and Stripe's HTTP behaviour, in memory. */
export interface FakeStripe {
  /** Answers one API request (the web-standard core behind `fetch`, msw and `listen`). */
  handle(request: Request): Promise<Response>;
  /** A `fetch` that talks to the fake without a network; connection faults reject like `fetch` does. */
  readonly fetch: typeof fetch;
  /** Starts a local HTTP server on 127.0.0.1 (an ephemeral port unless given). */
  listen(options?: { port?: number }): Promise<FakeStripeServer>;
  /** Injects a fault for the next matching requests. */
  fail(fault: FakeFault, options?: FakeFaultOptions): void;
  /** Completes an open Checkout Session as if the customer paid, emitting Stripe's events. */
  completeCheckoutSession(id: string): JsonObject;
  /** Records an event of any type (e.g. to test unknown or malformed events). */
  emit(type: string, object: JsonObject, options?: { previous?: JsonObject; livemode?: boolean }): JsonObject;
  /** An object by id, as the API would return it. */
  object(id: string): JsonObject | undefined;
  /** Every event, newest first (ignores the 30-day window). */
  events(): JsonObject[];
  /** Requests received so far, oldest first. */
  readonly requests: readonly FakeRequestRecord[];
  /** Registers a webhook endpoint: `listener` receives each new event. */
  registerEndpoint(listener: (event: JsonObject) => void): FakeEndpointRegistration;
}

const KEY = /^(sk|rk)_(live|test)_[A-Za-z0-9_]+$/;

/**
 * When the local server saw each request's first byte, on the fake's clock:
 * the rate limiter counts arrivals, as Stripe's edge does, not the moment the
 * body finished reading on a busy event loop.
 */
const arrivals = new WeakMap<Request, number>();
const DAY = 86_400;

interface SavedResult {
  fingerprint: string;
  status: number;
  body: string;
  requestId: string;
}

function usage(api: string, message: string): StripeUsageError {
  return new StripeUsageError(api, api === 'completeCheckoutSession' ? 'invalid_params' : 'invalid_options', message);
}

function checkFakeOptions(options: FakeStripeOptions): void {
  if (typeof options !== 'object' || options === null) throw usage('createFakeStripe', 'options must be an object');
  if (options.now !== undefined && typeof options.now !== 'function')
    throw usage('createFakeStripe', 'now must be a function');
  if (options.seed !== undefined && !Number.isInteger(options.seed))
    throw usage('createFakeStripe', 'seed must be an integer');
  const limit = options.rateLimit;
  if (limit !== undefined && limit !== false) {
    const ok = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n > 0;
    if (typeof limit !== 'object' || limit === null || !ok(limit.live) || !ok(limit.test))
      throw usage('createFakeStripe', 'rateLimit must be false or { live, test } positive integers');
  }
  if (options.apiKeys !== undefined && (!Array.isArray(options.apiKeys) || !options.apiKeys.every((k) => KEY.test(k))))
    throw usage('createFakeStripe', 'apiKeys must be secret or restricted keys (sk_/rk_ + test_/live_)');
  const days = options.eventRetentionDays;
  if (days !== undefined && (typeof days !== 'number' || !(days > 0)))
    throw usage('createFakeStripe', 'eventRetentionDays must be positive');
}

function json(status: number, body: unknown, headers: Record<string, string>): Response {
  return new Response(JSON.stringify(body, null, 2), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function readKey(header: string | null): string | undefined {
  if (!header) return undefined;
  const [scheme, value] = header.split(' ', 2);
  if (!value) return undefined;
  if (scheme?.toLowerCase() === 'bearer') return value.trim();
  if (scheme?.toLowerCase() === 'basic') {
    try {
      return atob(value.trim()).split(':')[0];
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function mask(key: string): string {
  return `${key.slice(0, 8)}********${key.slice(-4)}`;
}

/**
 * Creates a fake Stripe: customers, products, prices, subscriptions,
 * invoices, Checkout Sessions, PaymentIntents, charges and `/v1/events`, with
 * Stripe's pagination, error shapes, form-encoded bodies, idempotency keys and
 * rate limiting. Use it through `fetch`, msw ({@link stripeMswHandlers}) or a
 * local server (`listen`), and deliver its events with
 * {@link createWebhookSender}.
 *
 * @example
 * ```ts
 * const fake = createFakeStripe();
 * const server = await fake.listen();
 * const sdk = new Stripe('sk_test_123', { host: '127.0.0.1', port: server.port, protocol: 'http' });
 * ```
 */
export function createFakeStripe(options: FakeStripeOptions = {}): FakeStripe {
  checkFakeOptions(options);
  const clock = options.now ?? Date.now;
  const random = seededRandom(options.seed ?? 1);
  const apiVersion = options.apiVersion ?? '2026-10-28.endive';
  const rateLimit = options.rateLimit === undefined ? { live: 100, test: 25 } : options.rateLimit;
  const apiKeys = options.apiKeys ? new Set(options.apiKeys) : undefined;
  const windowSeconds = (options.eventRetentionDays ?? 30) * DAY;

  const store = createStore();
  const seconds = () => Math.floor(clock() / 1000);
  const saved = new Map<string, SavedResult>();
  const inFlight = new Set<string>();
  const hits = new Map<string, number[]>();
  const faults: Array<{ fault: FakeFault; left: number; method?: string; path?: string | RegExp }> = [];
  const requests: FakeRequestRecord[] = [];
  const endpoints = new Map<string, (event: JsonObject) => void>();
  const pending = new Map<string, Set<string>>();
  const sessionItems = new Map<string, LineItem[]>();
  let current: { requestId: string | null; idempotencyKey: string | null; livemode: boolean; account: string | null } =
    {
      requestId: null,
      idempotencyKey: null,
      livemode: false,
      account: null,
    };

  const newId = (prefix: string) => `${prefix}_${random.token(24)}`;

  const emit = (type: string, object: JsonObject, previous?: JsonObject, livemode = current.livemode): JsonObject => {
    const event: JsonObject = {
      id: newId('evt'),
      object: 'event',
      api_version: apiVersion,
      created: seconds(),
      data: previous
        ? { object: structuredClone(object), previous_attributes: previous }
        : { object: structuredClone(object) },
      livemode,
      pending_webhooks: endpoints.size,
      request: { id: current.requestId, idempotency_key: current.idempotencyKey },
      type,
    };
    if (current.account) event.account = current.account;
    store.put(event);
    pending.set(event.id as string, new Set(endpoints.keys()));
    for (const listener of endpoints.values()) listener(structuredClone(event));
    return event;
  };

  const ctx: ResourceContext = {
    store,
    get livemode() {
      return current.livemode;
    },
    now: seconds,
    id: newId,
    emit: (type, object, previous) => {
      emit(type, object, previous);
    },
    sessionItems,
  };

  const isPending = (event: JsonObject) => (pending.get(event.id as string)?.size ?? 0) > 0;
  const table = routes(isPending, windowSeconds, seconds);

  const takeFault = (method: string, path: string, stage: 'edge' | 'endpoint'): FakeFault | undefined => {
    const index = faults.findIndex(
      (f) =>
        f.left > 0 &&
        (f.fault.kind === 'status' && f.fault.saved ? 'endpoint' : 'edge') === stage &&
        (!f.method || f.method.toUpperCase() === method) &&
        (!f.path || (typeof f.path === 'string' ? f.path === path : f.path.test(path))),
    );
    const found = faults[index];
    if (!found) return undefined;
    found.left--;
    if (found.left === 0) faults.splice(index, 1);
    return found.fault;
  };

  const faultResponse = (fault: FakeFault, headers: Record<string, string>): Response => {
    if (fault.kind === 'connection') return Response.error();
    if (fault.kind === 'lock_timeout') {
      return json(
        429,
        {
          error: {
            type: 'invalid_request_error',
            code: 'lock_timeout',
            message:
              'This object cannot be accessed right now because another API request or Stripe process is currently accessing it.',
          },
        },
        { ...headers, 'stripe-should-retry': 'true' },
      );
    }
    const extra = fault.shouldRetry === undefined ? {} : { 'stripe-should-retry': String(fault.shouldRetry) };
    const error: JsonObject = {
      type: fault.type ?? (fault.status >= 500 ? 'api_error' : 'invalid_request_error'),
      message: fault.message ?? `Injected failure (${fault.status}).`,
    };
    if (fault.code) error.code = fault.code;
    return json(fault.status, { error }, { ...headers, ...extra });
  };

  const overLimit = (bucket: string, livemode: boolean, now: number): boolean => {
    if (!rateLimit) return false;
    const limit = livemode ? rateLimit.live : rateLimit.test;
    const recent = (hits.get(bucket) ?? []).filter((t) => now - t < 1000);
    if (recent.length >= limit) {
      hits.set(bucket, recent);
      return true;
    }
    recent.push(now);
    hits.set(bucket, recent);
    return false;
  };

  async function readParams(request: Request, url: URL): Promise<Params> {
    if (request.method === 'POST') {
      const type = request.headers.get('content-type') ?? '';
      const text = await request.text();
      if (text && !type.includes('application/x-www-form-urlencoded') && !type.includes('multipart')) {
        throw invalid(
          'Invalid request: the body must be form-encoded (Content-Type: application/x-www-form-urlencoded).',
        );
      }
      const body = decodeStripeForm(text);
      if (!body) throw invalid('Invalid request: the body could not be parsed.');
      return body;
    }
    const query = decodeStripeForm(url.search.slice(1));
    if (!query) throw invalid('Invalid request: the query string could not be parsed.');
    return query;
  }

  async function answer(request: Request, record: FakeRequestRecord): Promise<Response> {
    const url = new URL(request.url);
    const method = request.method.toUpperCase();
    const requestId = `req_${random.token(14)}`;
    const base: Record<string, string> = { 'request-id': requestId };
    const version = request.headers.get('stripe-version');
    if (version) base['stripe-version'] = version;
    const idempotencyKey = request.headers.get('idempotency-key');
    if (idempotencyKey) base['idempotency-key'] = idempotencyKey;

    const apiKey = readKey(request.headers.get('authorization'));
    if (!apiKey)
      return json(
        401,
        {
          error: {
            type: 'invalid_request_error',
            message: 'You did not provide an API key. Pass it in the Authorization header as a Bearer token.',
          },
        },
        base,
      );
    if (!KEY.test(apiKey) || (apiKeys && !apiKeys.has(apiKey)))
      return json(
        401,
        {
          error: {
            type: 'invalid_request_error',
            code: 'api_key_invalid',
            message: `Invalid API Key provided: ${mask(apiKey)}`,
          },
        },
        base,
      );
    const livemode = apiKey.includes('_live_');
    const account = request.headers.get('stripe-account');

    const edgeFault = takeFault(method, url.pathname, 'edge');
    if (edgeFault) return faultResponse(edgeFault, base);

    if (overLimit(`${apiKey}|${account ?? ''}`, livemode, arrivals.get(request) ?? clock())) {
      return json(
        429,
        {
          error: {
            type: 'invalid_request_error',
            code: 'rate_limit',
            message: 'Request rate limit exceeded. Spread your requests out or lower their rate.',
          },
        },
        { ...base, 'stripe-rate-limited-reason': 'global-rate' },
      );
    }

    let params: Params;
    try {
      params = await readParams(request, url);
    } catch (error) {
      if (error instanceof FakeApiError) return json(error.status, { error: error.error }, base);
      throw error;
    }

    let args: string[] | undefined;
    const route = table.find((r) => {
      if (r.method !== method) return false;
      const match = r.pattern.exec(url.pathname);
      if (match) args = match.slice(1);
      return match !== null;
    });
    if (!route || !args)
      return json(
        404,
        { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${url.pathname}).` } },
        base,
      );

    const scopedKey = idempotencyKey && method === 'POST' ? `${apiKey}|${account ?? ''}|${idempotencyKey}` : undefined;
    const fingerprint = `${method} ${url.pathname} ${JSON.stringify(params)}`;
    if (scopedKey) {
      if ((idempotencyKey as string).length > 255)
        return json(
          400,
          {
            error: {
              type: 'invalid_request_error',
              param: 'Idempotency-Key',
              message: 'Keys for idempotent requests can only be 255 characters long.',
            },
          },
          base,
        );
      const previous = saved.get(scopedKey);
      if (previous) {
        if (previous.fingerprint !== fingerprint) {
          return json(
            400,
            {
              error: {
                type: 'idempotency_error',
                message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Use a new key instead of '${idempotencyKey}' for a different request.`,
              },
            },
            base,
          );
        }
        record.replayed = true;
        return new Response(previous.body, {
          status: previous.status,
          headers: {
            'content-type': 'application/json',
            ...base,
            'request-id': previous.requestId,
            'idempotent-replayed': 'true',
            'original-request': previous.requestId,
          },
        });
      }
      if (inFlight.has(scopedKey)) {
        return json(
          409,
          {
            error: {
              type: 'idempotency_error',
              code: 'idempotency_key_in_use',
              message: 'Another request with the same idempotency key is still in progress. Retry after it completes.',
            },
          },
          base,
        );
      }
      inFlight.add(scopedKey);
    }

    try {
      const endpointFault = takeFault(method, url.pathname, 'endpoint');
      let response: Response;
      if (endpointFault) {
        response = faultResponse(endpointFault, base);
      } else {
        current = { requestId, idempotencyKey: idempotencyKey ?? null, livemode, account };
        try {
          const result = route.handle(ctx, params, args, url.pathname);
          const paths = Array.isArray(params.expand)
            ? params.expand.filter((p): p is string => typeof p === 'string')
            : [];
          response = json(200, expand(store, result, paths), base);
        } catch (error) {
          if (!(error instanceof FakeApiError)) throw error;
          response = json(error.status, { error: error.error }, { ...base, ...error.headers });
          if (!error.saved && scopedKey) {
            inFlight.delete(scopedKey);
            return response;
          }
        } finally {
          current = { requestId: null, idempotencyKey: null, livemode: false, account: null };
        }
      }
      if (scopedKey && response.type !== 'error') {
        saved.set(scopedKey, { fingerprint, status: response.status, body: await response.clone().text(), requestId });
      }
      return response;
    } finally {
      if (scopedKey) inFlight.delete(scopedKey);
    }
  }

  const handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const record: FakeRequestRecord = {
      method: request.method.toUpperCase(),
      path: url.pathname,
      status: 0,
      idempotencyKey: request.headers.get('idempotency-key'),
      stripeVersion: request.headers.get('stripe-version'),
      stripeAccount: request.headers.get('stripe-account'),
      replayed: false,
    };
    requests.push(record);
    const response = await answer(request, record);
    record.status = response.status;
    return response;
  };

  const fakeFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const response = await handle(request);
    if (response.type === 'error') {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      });
    }
    return response;
  }) as typeof fetch;

  return {
    handle,
    fetch: fakeFetch,
    listen: (listenOptions = {}) => listen(handle, listenOptions.port ?? 0, clock),
    fail(fault, faultOptions = {}) {
      const kind = (fault as { kind?: unknown } | null)?.kind;
      if (kind !== 'connection' && kind !== 'lock_timeout' && kind !== 'status')
        throw usage('fail', "fault.kind must be 'connection', 'lock_timeout' or 'status'");
      if (kind === 'status') {
        const status = (fault as { status?: unknown }).status;
        if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599)
          throw usage('fail', 'fault.status must be an HTTP error status (400-599)');
      }
      const times = faultOptions.times ?? 1;
      if (!Number.isInteger(times) || times < 1) throw usage('fail', 'times must be a positive integer');
      const entry: (typeof faults)[number] = { fault, left: faultOptions.times ?? 1 };
      if (faultOptions.method) entry.method = faultOptions.method;
      if (faultOptions.path) entry.path = faultOptions.path;
      faults.push(entry);
    },
    completeCheckoutSession(id) {
      const session = store.get(id);
      current = { requestId: null, idempotencyKey: null, livemode: session?.livemode === true, account: null };
      try {
        return completeSession(ctx, id);
      } catch (error) {
        if (error instanceof FakeApiError) throw usage('completeCheckoutSession', error.message);
        throw error;
      } finally {
        current = { requestId: null, idempotencyKey: null, livemode: false, account: null };
      }
    },
    emit: (type, object, emitOptions = {}) => emit(type, object, emitOptions.previous, emitOptions.livemode ?? false),
    object: (id) => store.get(id),
    events: () => store.all('event'),
    requests,
    registerEndpoint(listener) {
      const id = newId('we');
      endpoints.set(id, listener);
      return {
        id,
        delivered(eventId) {
          const waiting = pending.get(eventId);
          if (!waiting?.delete(id)) return;
          const event = store.get(eventId);
          if (event) store.put({ ...event, pending_webhooks: waiting.size });
        },
        close: () => {
          endpoints.delete(id);
        },
      };
    },
  };
}

async function listen(
  handle: (request: Request) => Promise<Response>,
  port: number,
  clock: () => number,
): Promise<FakeStripeServer> {
  const server = await serveFetch(handle, {
    port,
    clock,
    onArrival: (request, at) => arrivals.set(request, at),
    crashResponse: (error) =>
      Response.json(
        { error: { type: 'api_error', message: `fake Stripe crashed: ${String(error)}` } },
        { status: 500 },
      ),
  });
  return { url: server.url, host: server.host, port: server.port, close: () => server.close() };
}
