import {
  type CircuitBreakerOptions,
  type CircuitBreakers,
  type FetchLike,
  isRateLimitError,
  isResilienceError,
  memoryCounter,
  type RateLimiter,
  type RedisScriptClient,
  type ResilienceEvent,
  type RetryBudget,
  type RetryBudgetOptions,
  type RetryContext,
  rateLimiter,
  readResponseText,
  redisCounter,
  redisRateLimiter,
  resilientFetch,
  type SharedCounter,
} from '@ballast/core/resilience';
import type { z } from 'zod';
import { type PipedriveAuthOptions, tokenSource } from './auth';
import { DailyBudget, type DailyBudgetSnapshot } from './budget';
import {
  isBanPage,
  isPipedriveError,
  PipedriveError,
  PipedriveUsageError,
  pipedriveErrorFromResponse,
  requestIdOf,
} from './errors';
import {
  PIPEDRIVE_V1_COSTS,
  PIPEDRIVE_V2_COSTS,
  type PipedriveCostTable,
  type PipedriveOperation,
  type PipedrivePlan,
  pipedriveBurstLimit,
  pipedriveDailyBudget,
} from './limits';
import {
  cursorPages,
  MAX_PAGE_LIMIT,
  offsetPages,
  type PipedriveEnvelope,
  type PipedrivePage,
  type PipedriveQuery,
} from './pagination';
import {
  activitySchema,
  dealSchema,
  organizationSchema,
  type PipedriveActivity,
  type PipedriveDeal,
  type PipedriveOrganization,
  type PipedrivePerson,
  type PipedriveProduct,
  personSchema,
  productSchema,
} from './schemas';
import { type PausableLimiter, SEARCH_SUFFIX, tokenLimiter } from './token-limiter';

/** Events of the client besides core's resilience events. */
export type PipedriveClientSignal =
  | { type: 'pipedrive.budget'; at: number; key: string; budget: DailyBudgetSnapshot }
  | { type: 'pipedrive.banned'; at: number; key: string; until: number }
  | { type: 'pipedrive.rate_limited'; at: number; key: string; search: boolean }
  | { type: 'pipedrive.token_refreshed'; at: number; key: string };

/** Everything `onEvent` receives: core's resilience events and the client's own. */
export type PipedriveClientEvent = ResilienceEvent | PipedriveClientSignal;

/** A Redis client for shared limits and budget (ioredis fits). */
export type PipedriveRedisClient = RedisScriptClient;

/** Options of {@link pipedriveClient}. */
export interface PipedriveClientOptions {
  /** API token or OAuth (see {@link PipedriveAuthOptions}). */
  auth: PipedriveAuthOptions;
  /** The company's plan: sets the burst window and the daily budget. */
  plan: PipedrivePlan;
  /**
   * Paid seats of the company, for the daily budget.
   * @default 1 (the smallest budget: the safe reading)
   */
  seats?: number;
  /** The company domain: requests go to `https://{companyDomain}.pipedrive.com/api/v1|v2`. */
  companyDomain?: string;
  /**
   * The API origin, e.g. a local fake's URL; paths `/api/v1/…` and `/api/v2/…` are appended.
   * @default `https://{companyDomain}.pipedrive.com`, else `https://api.pipedrive.com` (v1 at `/v1`, v2 at `/api/v2`, as Pipedrive's SDK)
   */
  baseUrl?: string;
  /** The fetch underneath (a fake's handler, a proxy agent). @default the global fetch */
  fetch?: FetchLike;
  /**
   * Shares the token's burst window, search bucket, ban and the company's
   * daily budget between processes (core's Redis limiter, and `budgetCounter`
   * unless given). Limits are then not learned from headers (the table holds).
   */
  redis?: PipedriveRedisClient;
  /** @default 'ballast:pipedrive:' */
  keyPrefix?: string;
  /**
   * Where the daily count and the ban's end live (core's `memoryCounter` or
   * `redisCounter`); give processes that share a company one shared counter.
   * @default `redisCounter({ redis, keyPrefix })` when `redis` is given, else `memoryCounter()`
   */
  budgetCounter?: SharedCounter;
  /** Receives every resilience decision and the client's budget, ban, 429 and token events. Must not throw. */
  onEvent?: (event: PipedriveClientEvent) => void;
  /**
   * The limiter every attempt passes; `false` for none (tests only).
   * @default the burst window from the plan and auth (rolling, 2 s) plus the search bucket, learned from x-ratelimit-* headers
   */
  limiter?: RateLimiter | false;
  /** Requests per window of the token. @default the published table for `plan` and the auth type */
  burstLimit?: number;
  /** Search API requests per window. @default 10 */
  searchLimit?: number;
  /** The burst window in ms (shorter only against a compressed fake). @default 2000 */
  windowMs?: number;
  /** Learn the limit from `x-ratelimit-limit` / `-remaining` (local limiter only). @default true */
  learnLimits?: boolean;
  /**
   * The longest a response can pause the token, in ms: a guard against a
   * reset header read in the wrong unit (UNVERIFIED: seconds assumed).
   * @default 10_000
   */
  maxPauseMs?: number;
  /**
   * How long a 403 ban page stops the token, in ms: every call fails with
   * `banned` without a request until then (Pipedrive does not publish the ban's length: UNVERIFIED).
   * @default 600_000
   */
  banPauseMs?: number;
  /** The daily token budget; `false` to not track it. @default pipedriveDailyBudget(plan, seats) */
  dailyBudget?: number | false;
  /** IANA time zone of the company's server, where the daily budget resets at midnight (UNVERIFIED). @default 'UTC' */
  budgetTimeZone?: string;
  /** Overrides of the token cost per operation. @default PIPEDRIVE_V1_COSTS / PIPEDRIVE_V2_COSTS */
  costs?: { v1?: Partial<PipedriveCostTable>; v2?: Partial<PipedriveCostTable> };
  /** Attempts per call, the first included. POSTs are retried only when provably not processed. @default 3 */
  attempts?: number;
  /** @default 500 */
  baseDelayMs?: number;
  /** @default 10_000 */
  maxDelayMs?: number;
  /** Time limit of one attempt in ms. @default 30_000 */
  timeoutMs?: number;
  /** Circuit breaker registry, its options, or false. @default core's shared registry */
  breaker?: CircuitBreakers | CircuitBreakerOptions | false;
  /** Retry budget, its options, or false. @default core's shared budget */
  retryBudget?: RetryBudget | RetryBudgetOptions | false;
}

/** Options of one call. */
export interface PipedriveCallOptions {
  query?: PipedriveQuery;
  /** JSON body (POST, PATCH, PUT). */
  body?: unknown;
  signal?: AbortSignal;
}

/** HTTP methods of Pipedrive's API. */
export type PipedriveMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** A match of the Search API. */
export interface PipedriveSearchResult {
  resultScore: number;
  item: { id: number; [field: string]: unknown };
}

/** Options of `search`. */
export interface PipedriveSearchOptions {
  /** Fields to search, e.g. `['email']` or `['custom_fields']`. */
  fields?: readonly string[];
  /** Only exact matches (not case-sensitive on Pipedrive's side). @default false */
  exactMatch?: boolean;
  /** Results per page (≤ 500). @default 100 */
  limit?: number;
  signal?: AbortSignal;
}

/** A unique field and its value, for `findBy` / `upsertBy`. */
export interface PipedriveUniqueKey {
  /** `email`, `phone`, `name`, or the key of a custom field (e.g. the 40-character hash of an external-id field). */
  field: string;
  value: string | number;
}

/** What `upsertBy` did. */
export interface PipedriveUpsertResult<T> {
  action: 'created' | 'updated';
  record: T;
}

/** List parameters of a v2 list endpoint (`limit` ≤ 500). */
export type PipedriveListParams = PipedriveQuery & {
  limit?: number;
  cursor?: string;
  updated_since?: string;
  updated_until?: string;
  sort_by?: 'id' | 'update_time' | 'add_time';
  sort_direction?: 'asc' | 'desc';
};

/** A v2 entity: list (per item and per page), get, create, update, delete. */
export interface PipedriveResource<T> {
  /** Every record, fetching pages of `limit` (default 500) as needed. */
  list(params?: PipedriveListParams, options?: { signal?: AbortSignal }): AsyncGenerator<T, void, undefined>;
  /** Page by page. */
  pages(
    params?: PipedriveListParams,
    options?: { signal?: AbortSignal },
  ): AsyncGenerator<PipedrivePage<T>, void, undefined>;
  /** Records changed at or after `since` (`updated_since`, `sort_by=update_time` ascending): the incremental read. */
  changedSince(
    since: Date | string,
    params?: PipedriveListParams,
    options?: { signal?: AbortSignal },
  ): AsyncGenerator<T, void, undefined>;
  get(id: number, options?: { signal?: AbortSignal }): Promise<T>;
  /** Creates a record. Never retried unless the request provably did not reach Pipedrive (see `upsertBy`). */
  create(body: Record<string, unknown>, options?: { signal?: AbortSignal }): Promise<T>;
  update(id: number, body: Record<string, unknown>, options?: { signal?: AbortSignal }): Promise<T>;
  delete(id: number, options?: { signal?: AbortSignal }): Promise<{ id: number }>;
}

/** A v2 entity with the Search API and the look-up-before-create strategy. */
export interface PipedriveSearchableResource<T> extends PipedriveResource<T> {
  search(term: string, options?: PipedriveSearchOptions): AsyncGenerator<PipedriveSearchResult, void, undefined>;
  /**
   * The one record whose `field` equals `value` (exact search, then each
   * candidate read and compared), undefined when none; `ambiguous_match` when several.
   */
  findBy(key: PipedriveUniqueKey, options?: { signal?: AbortSignal }): Promise<T | undefined>;
  /**
   * Updates the record `findBy(key)` finds, or creates one (a custom-field key
   * is written into `custom_fields` of the new record). Pipedrive has no
   * idempotency keys: this is how a create is made safe to repeat.
   */
  upsertBy(
    key: PipedriveUniqueKey,
    body: Record<string, unknown>,
    options?: { signal?: AbortSignal },
  ): Promise<PipedriveUpsertResult<T>>;
}

/** A Pipedrive API client on core's resilient fetch. */
export interface PipedriveClient {
  /** One call; `path` starts with `/v1/` or `/v2/`. Resolves with the envelope or rejects with a `PipedriveError`. */
  request<T = unknown>(
    method: PipedriveMethod,
    path: string,
    options?: PipedriveCallOptions,
  ): Promise<PipedriveEnvelope<T>>;
  /** Pages of a cursor list (v2, `/v1/*\/collection`). */
  cursorPages<T = Record<string, unknown>>(
    path: string,
    query?: PipedriveQuery,
    options?: { signal?: AbortSignal },
  ): AsyncGenerator<PipedrivePage<T>, void, undefined>;
  /** Pages of an offset list (v1 `start`). */
  offsetPages<T = Record<string, unknown>>(
    path: string,
    query?: PipedriveQuery,
    options?: { signal?: AbortSignal },
  ): AsyncGenerator<PipedrivePage<T>, void, undefined>;
  readonly persons: PipedriveSearchableResource<PipedrivePerson>;
  readonly organizations: PipedriveSearchableResource<PipedriveOrganization>;
  readonly deals: PipedriveSearchableResource<PipedriveDeal>;
  readonly activities: PipedriveResource<PipedriveActivity>;
  readonly products: PipedriveResource<PipedriveProduct>;
  /** v1 endpoints without a v2 counterpart. */
  readonly users: { me(options?: { signal?: AbortSignal }): Promise<Record<string, unknown>> };
  readonly webhooks: {
    list(options?: { signal?: AbortSignal }): Promise<Array<Record<string, unknown>>>;
    create(body: Record<string, unknown>, options?: { signal?: AbortSignal }): Promise<Record<string, unknown>>;
    delete(id: number, options?: { signal?: AbortSignal }): Promise<void>;
  };
  /** The daily budget as last seen (undefined when not tracked). */
  budget(): DailyBudgetSnapshot | undefined;
  /** Epoch ms until which the token is stopped by a ban, 0 when it is not. */
  bannedUntil(): number;
  /** The auth type, which picks the burst column. */
  readonly authType: 'api_token' | 'oauth';
  /** The token's burst limit in force at construction (requests per window). */
  readonly burstLimit: number;
  readonly windowMs: number;
}

const API = 'pipedriveClient';
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const PLANS = new Set(['lite', 'growth', 'premium', 'ultimate']);
const DOMAIN = /^[a-z0-9][a-z0-9-]{0,62}$/i;

function invalid(message: string): PipedriveUsageError {
  return new PipedriveUsageError(API, 'invalid_options', message);
}

function badParams(message: string): PipedriveUsageError {
  return new PipedriveUsageError(API, 'invalid_params', message);
}

function count(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalid(`${field} must be an integer from ${min} to ${max}`);
  return value;
}

function errorCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function dailySpentSaid(headers: Headers): boolean {
  const raw = headers.get('x-daily-ratelimit-token-remaining');
  return raw !== null && raw.trim() !== '' && Number(raw) <= 0;
}

/** Which priced operation a call is, and in which API version. */
function operationOf(method: string, path: string): { version: 'v1' | 'v2'; op: PipedriveOperation; search: boolean } {
  const version = /\/v2\//.test(path) || path.startsWith('/api/v2') ? 'v2' : 'v1';
  const clean = path.replace(/\?.*$/, '');
  const search = /\/search$|\/itemSearch(\/|$)/.test(clean);
  const last = clean.split('/').filter(Boolean).at(-1) ?? '';
  const byId = /^\d+$/.test(last) || last === 'me';
  let op: PipedriveOperation;
  if (search) op = 'search';
  else if (method === 'GET') op = byId ? 'get' : 'list';
  else if (method === 'POST') op = 'create';
  else if (method === 'DELETE') op = byId ? 'delete' : 'delete_list';
  else op = 'update';
  return { version, op, search };
}

/**
 * Creates a Pipedrive API client: API-token or OAuth auth (one refresh in
 * flight, a 401 refreshed and replayed once), v2 entities with zod-checked
 * records (custom fields kept), cursor and offset pagination, typed errors,
 * the token's burst window and search bucket (shared through Redis when
 * given), the 403 ban honoured without sending, and the daily token budget
 * tracked from Pipedrive's headers or the cost table. Creates are never
 * retried blindly: use `upsertBy`.
 *
 * @throws PipedriveUsageError `invalid_options` for settings that cannot work (the token is never echoed).
 * @example
 * ```ts
 * const pipedrive = pipedriveClient({ auth: { type: 'api_token', token: secret(env.PIPEDRIVE_TOKEN) }, plan: 'growth', companyDomain: 'acme' });
 * for await (const person of pipedrive.persons.changedSince('2026-01-01T00:00:00Z')) console.log(person.id, person.name);
 * const { action } = await pipedrive.persons.upsertBy({ field: 'email', value: 'ada@example.com' }, { name: 'Ada', emails: [{ value: 'ada@example.com', primary: true }] });
 * ```
 */
export function pipedriveClient(options: PipedriveClientOptions): PipedriveClient {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  if (!PLANS.has(options.plan as string)) throw invalid("plan must be 'lite', 'growth', 'premium' or 'ultimate'");
  const tokens = tokenSource(
    options.auth,
    typeof options.companyDomain === 'string' ? options.companyDomain.toLowerCase() : undefined,
  );
  if (
    tokens.type === 'oauth' &&
    options.redis !== undefined &&
    (options.auth as { id?: unknown }).id === undefined &&
    options.companyDomain === undefined
  )
    throw invalid(
      'with redis, an OAuth client needs auth.id or companyDomain: it names the installation whose burst window and budget the processes share',
    );
  const seats = count(options.seats ?? 1, 'seats', 1, 100_000);
  const windowMs = count(options.windowMs ?? 2000, 'windowMs', 1, 600_000);
  const burst = count(
    options.burstLimit ?? pipedriveBurstLimit(options.plan, tokens.type).requests,
    'burstLimit',
    1,
    100_000,
  );
  const searchLimit = count(options.searchLimit ?? 10, 'searchLimit', 1, 100_000);
  const maxPauseMs = count(options.maxPauseMs ?? 10_000, 'maxPauseMs', windowMs, 86_400_000);
  const banPauseMs = count(options.banPauseMs ?? 600_000, 'banPauseMs', 0, 86_400_000);
  const attempts = count(options.attempts ?? 3, 'attempts', 1, 10);
  const baseDelayMs = count(options.baseDelayMs ?? 500, 'baseDelayMs', 0, 60_000);
  const maxDelayMs = count(options.maxDelayMs ?? 10_000, 'maxDelayMs', baseDelayMs, 600_000);
  const timeoutMs = count(options.timeoutMs ?? 30_000, 'timeoutMs', 1, 600_000);
  // the attempt's timeout ends with the headers: each body read gets as long again, so a Pipedrive
  // (or proxy) that stalls mid-body cannot hold a call forever
  const peek = (response: Response) => readResponseText(response, { timeoutMs }).catch(() => '');
  if (options.fetch !== undefined && typeof options.fetch !== 'function') throw invalid('fetch must be a function');
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function')
    throw invalid('onEvent must be a function');
  if (
    options.companyDomain !== undefined &&
    (typeof options.companyDomain !== 'string' || !DOMAIN.test(options.companyDomain))
  )
    throw invalid('companyDomain must be the subdomain of your Pipedrive URL, e.g. "acme" for acme.pipedrive.com');
  const keyPrefix = options.keyPrefix ?? 'ballast:pipedrive:';
  if (typeof keyPrefix !== 'string' || keyPrefix === '') throw invalid('keyPrefix must be a non-empty string');
  const redis = options.redis;
  if (redis !== undefined && (typeof redis?.eval !== 'function' || typeof redis?.evalsha !== 'function'))
    throw invalid('redis must be a Redis client with eval and evalsha (ioredis)');

  let origin: string;
  let v1Prefix = '/api/v1';
  if (options.baseUrl !== undefined) {
    try {
      const url = new URL(options.baseUrl);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(url.protocol);
      origin = url.origin;
    } catch (cause) {
      throw new PipedriveUsageError(API, 'invalid_options', 'baseUrl must be an http(s) URL', { cause });
    }
  } else if (options.companyDomain !== undefined) {
    origin = `https://${options.companyDomain.toLowerCase()}.pipedrive.com`;
  } else {
    origin = 'https://api.pipedrive.com';
    v1Prefix = '/v1';
  }

  const costs = {
    v1: { ...PIPEDRIVE_V1_COSTS, ...options.costs?.v1 },
    v2: { ...PIPEDRIVE_V2_COSTS, ...options.costs?.v2 },
  };
  for (const table of [costs.v1, costs.v2])
    for (const [op, cost] of Object.entries(table))
      if (typeof cost !== 'number' || !(cost >= 0)) throw invalid(`costs: ${op} must be a non-negative number`);

  const dailyLimit =
    options.dailyBudget === false
      ? undefined
      : options.dailyBudget === undefined
        ? pipedriveDailyBudget(options.plan, seats)
        : count(options.dailyBudget, 'dailyBudget', 1, 1e12);
  const counter: SharedCounter =
    options.budgetCounter ?? (redis !== undefined ? redisCounter({ redis, keyPrefix }) : memoryCounter());
  const sharedCounter = options.budgetCounter !== undefined || redis !== undefined;
  const banKey = `ban:${tokens.id}`;
  const emit = (event: PipedriveClientEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {
      // a throwing handler must not fail the call
    }
  };

  let bannedUntil = 0;
  let budget: DailyBudget | undefined;
  const tokenId = tokens.id;

  const banError = (operation: string): PipedriveError =>
    new PipedriveError(
      'banned',
      `${operation} was not sent: the token is stopped after a 403 ban until ${new Date(bannedUntil).toISOString()}`,
      { retryAt: bannedUntil, operation },
    );

  const checkBan = async (operation: string, shared: boolean): Promise<void> => {
    const now = Date.now();
    if (bannedUntil > now) throw banError(operation);
    if (shared) {
      const until = await counter.get(banKey);
      if (until > now) {
        bannedUntil = until;
        throw banError(operation);
      }
    }
  };

  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  /** Below the limiter: the ban and the budget, checked right before the request leaves, and what the answer says. */
  const gate: FetchLike = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const path = new URL(url).pathname;
    const operation = `${method} ${path}`;
    await checkBan(operation, sharedCounter);
    const { version, op, search } = operationOf(method, path);
    if (budget !== undefined) await budget.reserve(costs[version][op], operation);
    const response = await fetchImpl(input, init);
    const key = search ? `${tokenId}${SEARCH_SUFFIX}` : tokenId;
    if (response.status === 403) {
      const text = await peek(response.clone());
      if (isBanPage(403, response.headers.get('content-type'), text)) {
        bannedUntil = Math.max(bannedUntil, Date.now() + banPauseMs);
        emit({ type: 'pipedrive.banned', at: Date.now(), key: tokenId, until: bannedUntil });
        if (sharedCounter)
          await counter.raise(banKey, bannedUntil, { ttlMs: banPauseMs + 1000 }).catch(() => undefined);
      }
    }
    let dailySpent = false;
    if (response.status === 429) {
      const text = await peek(response.clone());
      dailySpent = dailySpentSaid(response.headers) || /"code"\s*:\s*"daily_limit_exceeded"/.test(text);
      if (!dailySpent) emit({ type: 'pipedrive.rate_limited', at: Date.now(), key, search });
    }
    if (budget !== undefined) {
      const spent = (await budget.observe(response.headers, response.status)) || dailySpent;
      if (spent) await budget.spend();
      emit({ type: 'pipedrive.budget', at: Date.now(), key: tokenId, budget: budget.snapshot() });
    }
    return response;
  };

  const shouldRetry = (ctx: RetryContext): boolean | undefined => {
    if (isPipedriveError(ctx.error)) return false;
    const response = ctx.response;
    if (response !== undefined) {
      // a 429 proves the request was not processed: even a POST may go again (after the pause)
      if (ctx.status === 429)
        return !dailySpentSaid(response.headers) && !(budget !== undefined && budget.snapshot().remaining <= 0);
      return ctx.method === 'POST' ? false : undefined;
    }
    // no answer: a POST goes again only when it provably never reached Pipedrive
    if (ctx.method === 'POST') return NOT_SENT.has(errorCode(ctx.error) ?? '') ? undefined : false;
    return undefined;
  };

  const build = (): FetchLike => {
    if (dailyLimit !== undefined)
      budget = new DailyBudget(
        dailyLimit,
        counter,
        `budget:${options.companyDomain ?? tokenId}`,
        options.budgetTimeZone ?? 'UTC',
      );
    let limiter: RateLimiter | undefined;
    if (options.limiter !== false) {
      if (options.limiter !== undefined) limiter = options.limiter;
      else {
        const onEvent = options.onEvent === undefined ? undefined : emit;
        const make = (limit: number): PausableLimiter =>
          redis !== undefined
            ? redisRateLimiter({
                redis,
                limit,
                interval: windowMs,
                keyPrefix: `${keyPrefix}rl:`,
                pauseOn429: windowMs,
                maxPause: maxPauseMs,
                ...(onEvent ? { onEvent } : {}),
              })
            : rateLimiter({
                limit,
                interval: windowMs,
                adaptive: options.learnLimits ?? true,
                providerWindow: windowMs,
                pauseOn429: windowMs,
                maxPause: maxPauseMs,
                ...(onEvent ? { onEvent } : {}),
              });
        limiter = tokenLimiter(make(burst), make(searchLimit), windowMs);
      }
    }
    return resilientFetch({
      fetch: gate,
      ...(limiter ? { limiter } : {}),
      key: (url) => (operationOf('GET', new URL(url).pathname).search ? `${tokenId}${SEARCH_SUFFIX}` : tokenId),
      ...(options.breaker === undefined ? {} : { breaker: options.breaker }),
      ...(options.onEvent ? { onEvent: emit } : {}),
      timeoutMs,
      retry: {
        attempts,
        baseDelayMs,
        maxDelayMs,
        idempotentMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'DELETE', 'POST'],
        shouldRetry,
        ...(options.retryBudget === undefined ? {} : { budget: options.retryBudget }),
      },
    });
  };
  const send = build();

  function urlOf(path: string, query: PipedriveQuery | undefined): string {
    if (typeof path !== 'string' || !/^\/v[12]\/[A-Za-z0-9_./:-]*$/.test(path) || path.includes('..'))
      throw badParams(`path must look like /v2/persons or /v1/webhooks, got ${JSON.stringify(path)}`);
    const rest = path.slice(3);
    const prefix = path.startsWith('/v2/') ? '/api/v2' : v1Prefix;
    const url = new URL(`${origin}${prefix}${rest}`);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      url.searchParams.set(name, Array.isArray(value) ? value.join(',') : String(value));
    }
    return url.toString();
  }

  async function request<T = unknown>(
    method: PipedriveMethod,
    path: string,
    call: PipedriveCallOptions = {},
  ): Promise<PipedriveEnvelope<T>> {
    if (!['GET', 'POST', 'PATCH', 'PUT', 'DELETE'].includes(method))
      throw badParams(`method must be GET, POST, PATCH, PUT or DELETE, got ${String(method)}`);
    const url = urlOf(path, call.query);
    const operation = `${method} ${path}`;
    await checkBan(operation, false);
    let auth: Awaited<ReturnType<typeof tokens.header>>;
    try {
      auth = await tokens.header();
    } catch (cause) {
      throw new PipedriveError('unauthorized', `${operation} was not sent: the OAuth refresh failed`, {
        cause,
        operation,
      });
    }
    for (let replay = 0; ; replay++) {
      const headers = new Headers({ accept: 'application/json', [auth.name]: auth.value });
      let body: string | undefined;
      if (call.body !== undefined) {
        headers.set('content-type', 'application/json');
        body = JSON.stringify(call.body);
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
        throw await failureOf(error, operation, call.signal);
      }
      let text: string;
      try {
        text = await readResponseText(response, { timeoutMs, ...(call.signal ? { signal: call.signal } : {}) });
      } catch (cause) {
        if (call.signal?.aborted) throw call.signal.reason;
        const detail = cause instanceof Error ? cause.message : String(cause);
        throw new PipedriveError(
          'connection',
          `${operation} answered ${response.status} but its body did not arrive: ${detail}`,
          { status: response.status, requestId: requestIdOf(response.headers), cause, operation },
        );
      }
      if (response.status === 401 && tokens.type === 'oauth' && replay === 0) {
        let renewed: boolean;
        try {
          renewed = await tokens.renew(auth.generation);
        } catch (cause) {
          throw new PipedriveError('unauthorized', `${operation} answered 401 and the OAuth refresh failed`, {
            status: 401,
            cause,
            operation,
          });
        }
        if (renewed) {
          emit({ type: 'pipedrive.token_refreshed', at: Date.now(), key: tokenId });
          auth = await tokens.header();
          continue;
        }
      }
      if (!response.ok) throw errorOf(response.status, response.headers, text, operation);
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch (cause) {
        throw new PipedriveError(
          'malformed_response',
          `${operation} answered ${response.status} with a body that is not JSON`,
          {
            status: response.status,
            requestId: requestIdOf(response.headers),
            cause,
            operation,
          },
        );
      }
      if (
        typeof json !== 'object' ||
        json === null ||
        !('data' in json) ||
        (json as { success?: unknown }).success === false
      )
        throw new PipedriveError(
          'malformed_response',
          `${operation} answered ${response.status} without Pipedrive's { success, data } envelope`,
          {
            status: response.status,
            requestId: requestIdOf(response.headers),
            operation,
          },
        );
      return json as PipedriveEnvelope<T>;
    }
  }

  function errorOf(status: number, headers: Headers, text: string, operation: string): PipedriveError {
    const daily =
      status === 429 && (dailySpentSaid(headers) || (budget !== undefined && budget.snapshot().remaining <= 0));
    const retryAt = daily
      ? budget?.snapshot().resetAt
      : status === 403 && bannedUntil > Date.now()
        ? bannedUntil
        : undefined;
    return pipedriveErrorFromResponse(status, headers, text, operation, {
      ...(retryAt === undefined ? {} : { retryAt }),
      dailySpent: daily,
    });
  }

  async function failureOf(error: unknown, operation: string, signal: AbortSignal | undefined): Promise<unknown> {
    if (signal?.aborted) return signal.reason;
    if (isPipedriveError(error)) return error;
    if (isResilienceError(error)) {
      if (error.response) {
        const last = error.response;
        const text = await peek(last);
        return Object.assign(errorOf(last.status, last.headers, text, operation), { cause: error });
      }
      if (error.code === 'circuit_open')
        return new PipedriveError(
          'circuit_open',
          `${operation} was not sent: the circuit breaker for Pipedrive is open`,
          {
            cause: error,
            operation,
            ...(error.waitMs === undefined ? {} : { retryAt: Date.now() + error.waitMs }),
          },
        );
    }
    if (isRateLimitError(error))
      return new PipedriveError(
        'limiter_refused',
        `${operation} was not sent: the rate limiter refused it (${error.code})`,
        {
          cause: error,
          operation,
        },
      );
    const detail = error instanceof Error ? error.message : String(error);
    return new PipedriveError('connection', `${operation} got no answer from Pipedrive: ${detail}`, {
      cause: error,
      operation,
    });
  }

  const getter = (signal: AbortSignal | undefined) => (path: string, query: PipedriveQuery) =>
    request('GET', path, { query, ...(signal ? { signal } : {}) }) as Promise<PipedriveEnvelope>;

  function checkLimit(query: PipedriveQuery, fallback: number): PipedriveQuery {
    const limit = query.limit ?? fallback;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT)
      throw badParams(`limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
    return { ...query, limit };
  }

  function parser<S extends z.ZodType>(schema: S, entity: string): (item: unknown) => z.infer<S> {
    return (item) => {
      const parsed = schema.safeParse(item);
      if (parsed.success) return parsed.data;
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid';
      throw new PipedriveError('malformed_response', `a ${entity} record does not match its schema (${where})`, {
        cause: parsed.error,
      });
    };
  }

  function rfc3339(since: Date | string): string {
    const date = since instanceof Date ? since : new Date(since);
    if (Number.isNaN(date.getTime())) throw badParams('since must be a Date or an RFC 3339 time');
    // whole seconds: a claim that milliseconds get a 400 is UNVERIFIED, and seconds are always accepted
    return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  function resource<S extends z.ZodType>(entity: string, schema: S): PipedriveResource<z.infer<S>> {
    type T = z.infer<S>;
    const parse = parser(schema, entity.replace(/s$/, ''));
    const base = `/v2/${entity}`;
    const id = (value: unknown): number => {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
        throw badParams('id must be a positive integer');
      return value;
    };
    const sig = (o?: { signal?: AbortSignal }) => (o?.signal ? { signal: o.signal } : {});
    const pages = (params: PipedriveListParams = {}, o?: { signal?: AbortSignal }) =>
      cursorPages(getter(o?.signal), base, checkLimit(params, MAX_PAGE_LIMIT), parse);
    async function* list(params?: PipedriveListParams, o?: { signal?: AbortSignal }) {
      for await (const page of pages(params, o)) yield* page.items;
    }
    return {
      pages,
      list,
      changedSince: (since, params = {}, o) =>
        list({ ...params, updated_since: rfc3339(since), sort_by: 'update_time', sort_direction: 'asc' }, o),
      get: async (value, o) => parse((await request('GET', `${base}/${id(value)}`, sig(o))).data),
      create: async (body, o) => parse((await request('POST', base, { body: checkBody(body), ...sig(o) })).data),
      update: async (value, body, o) =>
        parse((await request('PATCH', `${base}/${id(value)}`, { body: checkBody(body), ...sig(o) })).data),
      delete: async (value, o) => {
        const envelope = await request<{ id?: unknown }>('DELETE', `${base}/${id(value)}`, sig(o));
        return { id: typeof envelope.data?.id === 'number' ? envelope.data.id : (value as number) };
      },
    } satisfies PipedriveResource<T>;
  }

  function searchable<S extends z.ZodType>(
    entity: 'persons' | 'organizations' | 'deals',
    schema: S,
  ): PipedriveSearchableResource<z.infer<S>> {
    type T = z.infer<S>;
    const plain = resource(entity, schema);
    async function* search(term: string, o: PipedriveSearchOptions = {}) {
      if (typeof term !== 'string' || term.trim().length < (o.exactMatch ? 1 : 2))
        throw badParams('term must be at least 2 characters (1 with exactMatch)');
      const query: PipedriveQuery = checkLimit({ term, limit: o.limit }, 100);
      if (o.fields) query.fields = o.fields;
      if (o.exactMatch) query.exact_match = true;
      const get = getter(o.signal);
      const path = `/v2/${entity}/search`;
      const unwrap = async (p: string, q: PipedriveQuery): Promise<PipedriveEnvelope> => {
        const envelope = await get(p, q);
        const data = envelope.data as { items?: unknown } | null;
        if (data !== null && (typeof data !== 'object' || !Array.isArray(data.items)))
          throw new PipedriveError('malformed_response', `GET ${path} answered without data.items`, {
            operation: `GET ${path}`,
          });
        return { data: data === null ? [] : data.items, additional_data: envelope.additional_data };
      };
      const parse = (raw: unknown): PipedriveSearchResult => {
        const r = raw as { result_score?: unknown; item?: { id?: unknown } } | null;
        if (
          typeof r !== 'object' ||
          r === null ||
          typeof r.item !== 'object' ||
          r.item === null ||
          typeof r.item.id !== 'number'
        )
          throw new PipedriveError('malformed_response', `GET ${path} answered a result without item.id`, {
            operation: `GET ${path}`,
          });
        return {
          resultScore: typeof r.result_score === 'number' ? r.result_score : 0,
          item: r.item as PipedriveSearchResult['item'],
        };
      };
      for await (const page of cursorPages(unwrap, path, query, parse)) yield* page.items;
    }
    const STANDARD: Record<string, string> = { email: 'email', phone: 'phone', name: 'name', title: 'title' };
    function matches(record: Record<string, unknown>, key: PipedriveUniqueKey): boolean {
      const want = String(key.value).trim().toLowerCase();
      const same = (v: unknown) =>
        v !== null &&
        v !== undefined &&
        String(typeof v === 'object' && 'value' in v ? v.value : v)
          .trim()
          .toLowerCase() === want;
      if (key.field === 'email' || key.field === 'phone') {
        const list = record[`${key.field}s`] ?? record[key.field];
        return Array.isArray(list) ? list.some(same) : same(list);
      }
      if (key.field in STANDARD) return same(record[key.field]);
      const custom = record.custom_fields as Record<string, unknown> | null | undefined;
      return same(custom?.[key.field] ?? record[key.field]);
    }
    async function findBy(key: PipedriveUniqueKey, o: { signal?: AbortSignal } = {}): Promise<T | undefined> {
      if (typeof key !== 'object' || key === null || typeof key.field !== 'string' || key.field === '')
        throw badParams('findBy needs { field, value }');
      if ((typeof key.value !== 'string' && typeof key.value !== 'number') || String(key.value).trim() === '')
        throw badParams('findBy needs a non-empty string or number value');
      const fields = [STANDARD[key.field] ?? 'custom_fields'];
      const found: T[] = [];
      for await (const result of search(String(key.value), {
        fields,
        exactMatch: true,
        ...(o.signal ? { signal: o.signal } : {}),
      })) {
        const record = await plain.get(result.item.id, o);
        if (matches(record as Record<string, unknown>, key)) found.push(record);
        if (found.length > 1) break;
      }
      if (found.length > 1)
        throw new PipedriveError(
          'ambiguous_match',
          `more than one ${entity.replace(/s$/, '')} has ${key.field} = ${JSON.stringify(key.value)}; the field is not unique`,
        );
      return found[0];
    }
    return {
      ...plain,
      search,
      findBy,
      async upsertBy(key, body, o = {}) {
        const existing = await findBy(key, o);
        if (existing !== undefined)
          return { action: 'updated', record: await plain.update((existing as { id: number }).id, body, o) };
        let create = checkBody(body);
        if (!(key.field in STANDARD)) {
          const custom = (create.custom_fields ?? {}) as Record<string, unknown>;
          if (custom[key.field] === undefined)
            create = { ...create, custom_fields: { ...custom, [key.field]: key.value } };
        }
        return { action: 'created', record: await plain.create(create, o) };
      },
    };
  }

  function checkBody(body: unknown): Record<string, unknown> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badParams('body must be an object');
    return body as Record<string, unknown>;
  }

  const sig = (o?: { signal?: AbortSignal }) => (o?.signal ? { signal: o.signal } : {});
  return {
    request,
    cursorPages: <T>(path: string, query: PipedriveQuery = {}, o?: { signal?: AbortSignal }) =>
      cursorPages<T>(getter(o?.signal), path, checkLimit(query, MAX_PAGE_LIMIT), (item) => item as T),
    offsetPages: <T>(path: string, query: PipedriveQuery = {}, o?: { signal?: AbortSignal }) =>
      offsetPages<T>(getter(o?.signal), path, checkLimit(query, MAX_PAGE_LIMIT), (item) => item as T),
    persons: searchable('persons', personSchema),
    organizations: searchable('organizations', organizationSchema),
    deals: searchable('deals', dealSchema),
    activities: resource('activities', activitySchema),
    products: resource('products', productSchema),
    users: {
      me: async (o) => (await request<Record<string, unknown>>('GET', '/v1/users/me', sig(o))).data,
    },
    webhooks: {
      list: async (o) => (await request<Array<Record<string, unknown>>>('GET', '/v1/webhooks', sig(o))).data ?? [],
      create: async (body, o) =>
        (await request<Record<string, unknown>>('POST', '/v1/webhooks', { body: checkBody(body), ...sig(o) })).data,
      delete: async (value, o) => {
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
          throw badParams('id must be a positive integer');
        await request('DELETE', `/v1/webhooks/${value}`, sig(o));
      },
    },
    budget: () => budget?.snapshot(),
    bannedUntil: () => (bannedUntil > Date.now() ? bannedUntil : 0),
    authType: tokens.type,
    burstLimit: burst,
    windowMs,
  };
}
