import { serveFetch } from '@ballast/core/testing';
import { type PipedriveAuth, type PipedrivePlan, pipedriveBurstLimit } from '../limits';
import { type BanState, budgetDayStart, type CostKind, PLAN_MULTIPLIER, RollingWindow, V1_COSTS } from './limits';
import { seededRandom } from './random';
import {
  ENTITY_PATHS,
  type FakeCustomField,
  type FakeEntity,
  generateCustom,
  generateFields,
  type Json,
  type JsonObject,
  REQUIRED_FIELD,
  renderV1,
  renderV2,
  type StoredRecord,
  v1Time,
  WRITABLE,
} from './records';
import {
  checkRegistration,
  type FakeWebhookDelivery,
  type FakeWebhookOptions,
  type FakeWebhookRegistration,
  WEBHOOKS_PER_USER,
  WebhookHub,
} from './webhooks';

/** The API token the fake accepts when `apiTokens` is not given. */
export const FAKE_PIPEDRIVE_API_TOKEN = 'fa4e0000c0ffee00000000000000000000000001';

/** Thrown for a bad argument to the fake's own API (not for HTTP requests, which get HTTP answers). */
export class FakePipedriveUsageError extends TypeError {
  override readonly name = 'FakePipedriveUsageError';
  constructor(api: string, message: string) {
    super(`[@ballast/pipedrive] [${api}] ${message}`);
  }
}

/** A fault the fake injects into matching requests. */
export type FakePipedriveFault =
  /** Any status with Pipedrive's error envelope (500, 503, ...). */
  | { kind: 'status'; status: number; message?: string }
  /** A 200 whose body is cut off mid-JSON. */
  | { kind: 'bad_json' }
  /** A normal answer without its `additional_data` (the pagination block of list pages). */
  | { kind: 'missing_additional_data' }
  /** No answer at all until the request is aborted (or the server closes). */
  | { kind: 'hang' }
  /** The connection drops: `fetch` rejects, the local server destroys the socket. */
  | { kind: 'connection' };

/** Which requests a fault applies to, and how often. */
export interface FakePipedriveFaultOptions {
  /** How many matching requests get it; `Infinity` until {@link FakePipedrive.clearFaults}. @default 1 */
  times?: number;
  method?: string;
  /** Matched against the path (`/api/v2/persons`, `/v1/webhooks`, ...). */
  path?: string | RegExp;
}

/** A custom field to define at creation: Pipedrive keys them by a 40-character hash. */
export interface FakeCustomFieldInput {
  name: string;
  /** 40 lowercase hex characters. @default derived from the seed */
  key?: string;
  /** @default 'varchar' */
  field_type?: string;
}

/** The OAuth app the fake's token endpoint (`POST https://oauth.pipedrive.com/oauth/token`) knows. */
export interface FakeOAuthOptions {
  /** @default 'fake-client-id' */
  clientId?: string;
  /** @default 'fake-client-secret' */
  clientSecret?: string;
  /** Lifetime of an access token. @default 3_599_000 */
  accessTokenTtlMs?: number;
  /**
   * `api_domain` in token answers.
   * @default `https://${companyDomain}.pipedrive.com`, or the server's own URL when the token endpoint is called on the local server
   */
  apiDomain?: string;
  /**
   * Whether a refresh issues a new refresh token and retires the old one.
   * @default true
   */
  rotateRefreshToken?: boolean;
}

/** Options for {@link createFakePipedrive}. */
export interface FakePipedriveOptions {
  /** The fake's clock in milliseconds (windows, bans, budget day, record times). @default Date.now */
  now?: () => number;
  /** Seed for generated data, hash keys and uuids. @default 1 */
  seed?: number;
  /** The company's plan, which sets the burst limits and the daily budget. @default 'lite' */
  plan?: PipedrivePlan;
  /** Seats, a factor of the daily budget. @default 1 */
  seats?: number;
  /** The company subdomain (`{companyDomain}.pipedrive.com`). @default 'fake-company' */
  companyDomain?: string;
  /** API tokens accepted in `x-api-token`. @default [FAKE_PIPEDRIVE_API_TOKEN] */
  apiTokens?: readonly string[];
  /**
   * Accept the token in the `api_token` query parameter too. Whether Pipedrive
   * still does is UNVERIFIED; the default refuses it with 401.
   * @default false
   */
  acceptQueryToken?: boolean;
  /** The OAuth app. @default the defaults of {@link FakeOAuthOptions} */
  oauth?: FakeOAuthOptions;
  /** Length of the rolling burst window; shorten it (same shape) for benches. @default 2000 */
  windowMs?: number;
  /** Override the per-window limits. @default from `pipedriveBurstLimit(plan, auth)` and 10 for search */
  burst?: { api_token?: number; oauth?: number; search?: number };
  /** `false` turns the burst and search windows off (the budget still applies). @default true */
  rateLimit?: boolean;
  /**
   * The 403 ban: a token that sends `strikes` requests while it is over its
   * limit (after a 429, before the reset it was told) is banned for
   * `durationMs`. The real thresholds are not published. `false` disables bans.
   * @default { strikes: 5, durationMs: 600_000 }
   */
  ban?: { strikes?: number; durationMs?: number } | false;
  /** Daily token budget; `false` disables it. @default 30_000 × plan multiplier × seats */
  dailyBudget?: number | false;
  /** Price of a v2 call relative to the v1 price of the same kind. @default 0.5 */
  v2CostRatio?: number;
  /** The server's offset from UTC; the budget resets at its midnight. @default 0 */
  budgetUtcOffsetMinutes?: number;
  /**
   * Send `x-daily-ratelimit-token-limit/remaining`. They are undocumented and
   * sometimes missing: a number in (0, 1) sends them on that share of
   * answers (seeded), so a client's fallback to its cost table gets tested.
   * @default true
   */
  dailyHeaders?: boolean | number;
  /**
   * How long a new record stays invisible to the search endpoints (the search
   * index lags behind writes on a live account; how much is not documented).
   * @default 0
   */
  searchLagMs?: number;
  /** Custom fields per entity. @default an 'External ID' field on persons, organizations and deals */
  customFields?: Partial<Record<FakeEntity, readonly FakeCustomFieldInput[]>>;
  /** Whether v2 lists include soft-deleted records (with `is_deleted: true`). @default false */
  deletedInLists?: boolean;
  /** Answer 400 to `updated_since`/`updated_until` with milliseconds (reported, UNVERIFIED). @default true */
  rejectMillisecondTimestamps?: boolean;
  /** Webhook delivery. */
  webhooks?: FakeWebhookOptions;
}

/** A request the fake received. */
export interface FakePipedriveRequest {
  /** Arrival time on the fake's clock (first byte, for the local server). */
  at: number;
  method: string;
  path: string;
  /** The route, ids as `{id}`: `GET /api/v2/persons/{id}`. */
  endpoint: string;
  /** The token's label: the API token itself, or `oauth:<grant>` for every access token of one OAuth grant. */
  token: string | null;
  status: number;
  /** Daily-budget tokens charged. */
  cost: number;
}

/** Counters for assertions. */
export interface FakePipedriveStats {
  requests: number;
  /** 429 answers (burst, search or budget). */
  rateLimited: number;
  /** 403 ban pages served. */
  banned: number;
  /** Bans imposed. */
  bans: number;
  byToken: Record<string, { requests: number; rateLimited: number; banned: number; bans: number }>;
  byEndpoint: Record<string, { requests: number; rateLimited: number }>;
}

/** A running local server. */
export interface FakePipedriveServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Tokens a refresh answers with (the shape of Pipedrive's token endpoint). */
export interface FakeOAuthTokens {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  api_domain: string;
}

/** A fake Pipedrive: records, limits, pagination and webhooks in memory. */
export interface FakePipedrive {
  /** Answers one request (the core behind `fetch`, msw and `listen`). */
  handle(request: Request): Promise<Response>;
  /** A `fetch` that talks to the fake without a network. */
  readonly fetch: typeof fetch;
  /** Starts a local HTTP server on 127.0.0.1. Its URL serves `/v1`, `/api/v1`, `/api/v2` and `/oauth/token`. */
  listen(options?: { port?: number }): Promise<FakePipedriveServer>;
  /** The company subdomain. */
  readonly companyDomain: string;
  /** The API tokens accepted. */
  readonly apiTokens: readonly string[];
  /** Custom fields per entity. */
  readonly customFields: Readonly<Record<FakeEntity, readonly FakeCustomField[]>>;
  /** Adds `count` generated records of each entity, from a seeded source (same seed, same records). */
  seed(counts: Partial<Record<FakeEntity, number>>, options?: { seed?: number }): void;
  /** Creates a record server-side (as a user in the Pipedrive UI), emitting a webhook. Returns its v2 shape. */
  create(entity: FakeEntity, fields: JsonObject, options?: { custom?: JsonObject }): JsonObject;
  /** Edits a record server-side: advances `update_time` and emits a change webhook. */
  edit(entity: FakeEntity, id: number, patch: JsonObject, options?: { custom?: JsonObject }): JsonObject;
  /** Soft-deletes a record server-side, emitting a delete webhook. */
  remove(entity: FakeEntity, id: number): void;
  /** A record's v2 shape (deleted ones included), with renames applied. */
  record(entity: FakeEntity, id: number): JsonObject | undefined;
  /** Every record of an entity, deleted ones included, by id. */
  records(entity: FakeEntity): JsonObject[];
  /** Renames a top-level field in every payload of an entity (API and webhooks); `to: null` undoes it. */
  renameField(entity: FakeEntity, from: string, to: string | null): void;
  /** Injects a fault into matching requests. */
  fault(fault: FakePipedriveFault, options?: FakePipedriveFaultOptions): void;
  clearFaults(): void;
  /** Requests received, oldest first. */
  readonly requests: readonly FakePipedriveRequest[];
  stats(): FakePipedriveStats;
  /**
   * Issues OAuth tokens for a new grant (as after the user authorized the app).
   * `apiDomain` overrides `api_domain` in the answer (e.g. the local server's URL).
   */
  issueOAuthTokens(options?: { apiDomain?: string }): FakeOAuthTokens;
  /** A one-time authorization code for a new grant, for the `authorization_code` grant of the token endpoint. */
  authorizationCode(): string;
  /** Expires every access token now (refresh tokens keep working). */
  expireAccessTokens(): void;
  /** Daily-budget tokens left today. */
  budgetRemaining(): number;
  /** Webhooks registered through `POST /v1/webhooks`. */
  webhooks(): FakeWebhookRegistration[];
  /** Every delivery attempt and lost event, oldest first. */
  readonly deliveries: readonly FakeWebhookDelivery[];
  /** A webhook's ban state. */
  webhookBan(id: number): { banned: boolean; until: number; failures: number } | undefined;
  /** Resolves when no webhook delivery is in flight and no retry is scheduled. */
  webhooksIdle(): Promise<void>;
}

const INFO = 'Please check developers.pipedrive.com for more information about Pipedrive API.';
const ENTITIES = Object.keys(ENTITY_PATHS) as FakeEntity[];
const NOT_FOUND_NAME: Record<FakeEntity, string> = {
  person: 'Person',
  organization: 'Organization',
  deal: 'Deal',
  activity: 'Activity',
  product: 'Product',
};
const arrivals = new WeakMap<Request, number>();
type SearchEntity = 'person' | 'organization' | 'deal';
const SEARCH_FIELDS: Record<SearchEntity, readonly string[]> = {
  person: ['custom_fields', 'email', 'notes', 'phone', 'name'],
  organization: ['address', 'custom_fields', 'notes', 'name'],
  deal: ['custom_fields', 'notes', 'title'],
};
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: JsonObject = {},
  ) {
    super(message);
  }
}

function envelopeError(status: number, error: string, extra: JsonObject = {}): JsonObject {
  return { success: false, error, error_info: INFO, data: null, additional_data: null, errorCode: status, ...extra };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

function banPage(host: string): string {
  return [
    '<!DOCTYPE html>',
    `<html lang="en-US"><head><title>Access denied | ${host} used Cloudflare to restrict access</title>`,
    '<meta charset="UTF-8" /></head><body>',
    '<div id="cf-wrapper"><h1><span class="cf-error-type">Error</span> <span class="cf-error-code">1020</span></h1>',
    '<h2 class="cf-subheadline">Access denied</h2>',
    '<p>This website is using a security service to protect itself from online attacks.</p>',
    '</div></body></html>',
  ].join('\n');
}

function usage(api: string, message: string): FakePipedriveUsageError {
  return new FakePipedriveUsageError(api, message);
}

interface Route {
  method: string;
  /** Matched against `v1/...` or `v2/...`. */
  pattern: RegExp;
  endpoint: (path: string) => string;
  cost: CostKind | null;
  search?: boolean;
  handle: (ctx: RouteContext, args: string[]) => Json | { body: JsonObject; status?: number } | Promise<Json>;
}

interface RouteContext {
  url: URL;
  body: () => Promise<JsonObject>;
  userId: number;
}

interface Grant {
  id: number;
  refreshToken: string;
}

function checkOptions(o: FakePipedriveOptions): void {
  const api = 'createFakePipedrive';
  if (typeof o !== 'object' || o === null) throw usage(api, 'options must be an object');
  if (o.now !== undefined && typeof o.now !== 'function') throw usage(api, 'now must be a function');
  if (o.plan !== undefined && !(o.plan in PLAN_MULTIPLIER))
    throw usage(api, 'plan must be lite, growth, premium or ultimate');
  const positiveInt = (value: unknown, name: string) => {
    if (value !== undefined && !(typeof value === 'number' && Number.isInteger(value) && value > 0))
      throw usage(api, `${name} must be a positive integer`);
  };
  positiveInt(o.seats, 'seats');
  positiveInt(o.windowMs, 'windowMs');
  positiveInt(o.burst?.api_token, 'burst.api_token');
  positiveInt(o.burst?.oauth, 'burst.oauth');
  positiveInt(o.burst?.search, 'burst.search');
  if (o.ban) {
    positiveInt(o.ban.strikes, 'ban.strikes');
    positiveInt(o.ban.durationMs, 'ban.durationMs');
  }
  if (o.dailyBudget !== undefined && o.dailyBudget !== false) positiveInt(o.dailyBudget, 'dailyBudget');
  if (
    o.dailyHeaders !== undefined &&
    typeof o.dailyHeaders !== 'boolean' &&
    !(o.dailyHeaders > 0 && o.dailyHeaders < 1)
  )
    throw usage(api, 'dailyHeaders must be a boolean or a share in (0, 1)');
  if (o.searchLagMs !== undefined && !(typeof o.searchLagMs === 'number' && o.searchLagMs >= 0))
    throw usage(api, 'searchLagMs must be >= 0');
  if (o.v2CostRatio !== undefined && !(o.v2CostRatio > 0 && o.v2CostRatio <= 1))
    throw usage(api, 'v2CostRatio must be in (0, 1]');
  if (
    o.apiTokens !== undefined &&
    (!Array.isArray(o.apiTokens) || !o.apiTokens.every((t) => typeof t === 'string' && t))
  )
    throw usage(api, 'apiTokens must be non-empty strings');
  if (o.companyDomain !== undefined && !/^[a-z0-9-]+$/i.test(o.companyDomain))
    throw usage(api, 'companyDomain must be a subdomain such as acme');
  for (const [entity, fields] of Object.entries(o.customFields ?? {})) {
    if (!(entity in ENTITY_PATHS)) throw usage(api, `customFields: unknown entity ${entity}`);
    for (const field of fields ?? []) {
      if (typeof field?.name !== 'string' || !field.name) throw usage(api, 'customFields: each field needs a name');
      if (field.key !== undefined && !/^[0-9a-f]{40}$/.test(field.key))
        throw usage(api, 'customFields: key must be 40 lowercase hex characters');
    }
  }
  const w = o.webhooks;
  if (w) {
    if (w.retryDelaysMs !== undefined && !w.retryDelaysMs.every((d) => typeof d === 'number' && d >= 0))
      throw usage(api, 'webhooks.retryDelaysMs must be non-negative numbers');
    positiveInt(w.timeoutMs, 'webhooks.timeoutMs');
    positiveInt(w.banAfter, 'webhooks.banAfter');
    positiveInt(w.banMs, 'webhooks.banMs');
    if (w.target !== undefined && typeof w.target !== 'function')
      throw usage(api, 'webhooks.target must be a function');
  }
}

/**
 * Creates a fake Pipedrive: persons, organizations, deals, activities and
 * products on v2 with cursor pagination; `/v1/webhooks`, `/v1/recents`,
 * `/v1/users` and the field lists on v1 with offset pagination; API-token and
 * OAuth auth with a token endpoint; per-token burst windows, the search
 * bucket, the 403 ban and the daily budget; webhook delivery with Basic auth,
 * Pipedrive's retry schedule and endpoint bans. Use it through `fetch`, msw
 * (`pipedriveMswHandlers`) or a local server.
 *
 * @example
 * ```ts
 * const fake = createFakePipedrive({ plan: 'lite' });
 * fake.seed({ person: 250 });
 * const res = await fake.fetch('https://api.pipedrive.com/api/v2/persons?limit=100', {
 *   headers: { 'x-api-token': FAKE_PIPEDRIVE_API_TOKEN },
 * });
 * ```
 */
export function createFakePipedrive(options: FakePipedriveOptions = {}): FakePipedrive {
  checkOptions(options);
  const clock = options.now ?? Date.now;
  const seedValue = options.seed ?? 1;
  const random = seededRandom(seedValue);
  const plan = options.plan ?? 'lite';
  const seats = options.seats ?? 1;
  const companyDomain = options.companyDomain ?? 'fake-company';
  const companyId = 1000 + (seedValue % 1000);
  const apiTokens = [...(options.apiTokens ?? [FAKE_PIPEDRIVE_API_TOKEN])];
  const windowMs = options.windowMs ?? 2000;
  const rateLimit = options.rateLimit ?? true;
  const ban = options.ban === false ? undefined : { strikes: 5, durationMs: 600_000, ...options.ban };
  const dailyBudget =
    options.dailyBudget === false ? undefined : (options.dailyBudget ?? 30_000 * PLAN_MULTIPLIER[plan] * seats);
  const v2Ratio = options.v2CostRatio ?? 0.5;
  const utcOffset = options.budgetUtcOffsetMinutes ?? 0;
  const dailyHeaders = options.dailyHeaders ?? true;
  const searchLagMs = options.searchLagMs ?? 0;
  const headerRandom = seededRandom(seedValue + 1);
  const deletedInLists = options.deletedInLists ?? false;
  const rejectMs = options.rejectMillisecondTimestamps ?? true;
  const oauth = {
    clientId: options.oauth?.clientId ?? 'fake-client-id',
    clientSecret: options.oauth?.clientSecret ?? 'fake-client-secret',
    ttl: options.oauth?.accessTokenTtlMs ?? 3_599_000,
    apiDomain: options.oauth?.apiDomain,
    rotate: options.oauth?.rotateRefreshToken ?? true,
  };
  const userId = 1;

  const uuid = (): string => {
    const h = random.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };

  const customFields = {} as Record<FakeEntity, FakeCustomField[]>;
  for (const entity of ENTITIES) {
    const given = options.customFields?.[entity];
    const defaults: FakeCustomFieldInput[] =
      entity === 'activity' || entity === 'product' ? [] : [{ name: 'External ID' }];
    customFields[entity] = (given ?? defaults).map((f) => ({
      key: f.key ?? random.hex(40),
      name: f.name,
      field_type: f.field_type ?? 'varchar',
    }));
  }

  const store = new Map<FakeEntity, Map<number, StoredRecord>>(ENTITIES.map((e) => [e, new Map()]));
  const nextId = new Map<FakeEntity, number>(ENTITIES.map((e) => [e, 1]));
  const renames = new Map<FakeEntity, Map<string, string>>(ENTITIES.map((e) => [e, new Map()]));
  const faults: Array<{ fault: FakePipedriveFault; left: number; method?: string; path?: string | RegExp }> = [];
  const requests: FakePipedriveRequest[] = [];
  const windows = new Map<string, RollingWindow>();
  const bans = new Map<string, BanState>();
  const banEvents = new Map<string, number>();
  const accessTokens = new Map<string, { grant: number; expiresAt: number }>();
  const grants = new Map<number, Grant>();
  const refreshTokens = new Map<string, number>();
  const codes = new Map<string, number>();
  let nextGrant = 1;
  let budgetDay = budgetDayStart(clock(), utcOffset);
  let budgetUsed = 0;
  let lastTime = 0;

  const hub = new WebhookHub(options.webhooks ?? {}, clock, uuid, { id: companyId, domain: companyDomain });

  /** Record times strictly increase, so `update_time` orders edits even within one second. */
  const stamp = (): number => {
    const now = Math.max(clock(), lastTime + 1);
    lastTime = now;
    return now;
  };

  const applyRenames = (entity: FakeEntity, object: JsonObject): JsonObject => {
    const map = renames.get(entity) as Map<string, string>;
    if (map.size === 0) return object;
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(object)) out[map.get(key) ?? key] = value;
    return out;
  };
  const v2 = (entity: FakeEntity, record: StoredRecord, keys?: ReadonlySet<string>) =>
    applyRenames(entity, renderV2(entity, record, keys));
  const v1 = (entity: FakeEntity, record: StoredRecord) => applyRenames(entity, renderV1(entity, record));

  const table = (entity: FakeEntity) => store.get(entity) as Map<number, StoredRecord>;

  const emit = (
    entity: FakeEntity,
    action: 'create' | 'change' | 'delete',
    record: StoredRecord,
    before: StoredRecord | null,
    source: 'app' | 'api',
  ) => {
    const current = action === 'delete' ? null : v2(entity, record);
    let previous: JsonObject | null = null;
    if (before && action === 'change') {
      const old = v2(entity, before);
      const now = v2(entity, record);
      previous = {};
      for (const [key, value] of Object.entries(old)) {
        if (key === 'update_time') continue;
        if (JSON.stringify(value) !== JSON.stringify(now[key])) previous[key] = value;
      }
    } else if (action === 'delete' && before) previous = v2(entity, before);
    hub.dispatch({
      entity,
      action,
      id: record.id,
      current,
      previous,
      currentV1: action === 'delete' ? null : v1(entity, record),
      previousV1: before ? v1(entity, before) : null,
      source,
      userId,
    });
  };

  const checkCustom = (entity: FakeEntity, custom: Json | undefined): JsonObject => {
    if (custom === undefined || custom === null) return {};
    if (typeof custom !== 'object' || Array.isArray(custom))
      throw new HttpError(400, 'custom_fields must be an object');
    const known = new Set(customFields[entity].map((f) => f.key));
    for (const key of Object.keys(custom)) {
      if (!known.has(key)) throw new HttpError(400, `Unknown custom field key: ${key}`);
    }
    return custom;
  };

  const pickWritable = (entity: FakeEntity, body: JsonObject): JsonObject => {
    const out: JsonObject = {};
    for (const key of WRITABLE[entity]) if (key in body) out[key] = body[key] as Json;
    return out;
  };

  const insert = (entity: FakeEntity, fields: JsonObject, custom: JsonObject, source: 'app' | 'api') => {
    const required = REQUIRED_FIELD[entity];
    if (required && (typeof fields[required] !== 'string' || !(fields[required] as string).trim()))
      throw new HttpError(400, `${required} is required`);
    const id = nextId.get(entity) as number;
    nextId.set(entity, id + 1);
    const now = stamp();
    const defaults = generateFields(entity, id, seededRandom(id), userId);
    const base: JsonObject = {};
    for (const key of Object.keys(defaults)) base[key] = key in fields ? (fields[key] as Json) : emptyOf(defaults[key]);
    if (entity === 'person' && typeof fields.name === 'string' && !('first_name' in fields)) {
      const [first, ...rest] = fields.name.split(' ');
      base.first_name = first ?? null;
      base.last_name = rest.join(' ') || null;
    }
    const blank: JsonObject = {};
    for (const field of customFields[entity]) blank[field.key] = null;
    const record: StoredRecord = {
      id,
      fields: base,
      custom: { ...blank, ...custom },
      addTime: now,
      updateTime: now,
      deleted: false,
    };
    table(entity).set(id, record);
    emit(entity, 'create', record, null, source);
    return record;
  };

  const update = (entity: FakeEntity, id: number, fields: JsonObject, custom: JsonObject, source: 'app' | 'api') => {
    const record = table(entity).get(id);
    if (!record || record.deleted) throw new HttpError(404, `${NOT_FOUND_NAME[entity]} not found`);
    const required = REQUIRED_FIELD[entity];
    if (required && required in fields && (typeof fields[required] !== 'string' || !(fields[required] as string)))
      throw new HttpError(400, `${required} must not be empty`);
    const before = structuredClone(record);
    Object.assign(record.fields, fields);
    Object.assign(record.custom, custom);
    record.updateTime = stamp();
    emit(entity, 'change', record, before, source);
    return record;
  };

  const softDelete = (entity: FakeEntity, id: number, source: 'app' | 'api') => {
    const record = table(entity).get(id);
    if (!record || record.deleted) throw new HttpError(404, `${NOT_FOUND_NAME[entity]} not found`);
    const before = structuredClone(record);
    record.deleted = true;
    record.updateTime = stamp();
    emit(entity, 'delete', record, before, source);
    return record;
  };

  // ---- query parsing ----

  const limitParam = (url: URL): number => {
    const raw = url.searchParams.get('limit');
    if (raw === null || raw === '') return 100;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new HttpError(400, 'limit must be a positive integer');
    if (n > 500) throw new HttpError(400, 'limit must not be greater than 500');
    return n;
  };

  const timeParam = (url: URL, name: string): number | undefined => {
    const raw = url.searchParams.get(name);
    if (raw === null || raw === '') return undefined;
    const match = RFC3339.exec(raw);
    if (!match) throw new HttpError(400, `${name} must be an RFC 3339 date-time, e.g. 2025-01-01T10:20:00Z`);
    if (match[1] && rejectMs) throw new HttpError(400, `${name} must not contain milliseconds`);
    return Date.parse(raw);
  };

  const encodeCursor = (value: number, id: number): string =>
    btoa(JSON.stringify({ v: value, id }))
      .replace(/=+$/, '')
      .replace(/\+/g, '-')
      .replace(/\//g, '_');
  const decodeCursor = (raw: string): { v: number; id: number } => {
    try {
      const parsed = JSON.parse(atob(raw.replace(/-/g, '+').replace(/_/g, '/'))) as { v?: unknown; id?: unknown };
      if (typeof parsed.v === 'number' && typeof parsed.id === 'number') return { v: parsed.v, id: parsed.id };
    } catch {}
    throw new HttpError(400, 'Invalid cursor');
  };

  const listV2 = (entity: FakeEntity, url: URL): { body: JsonObject } => {
    const q = url.searchParams;
    const limit = limitParam(url);
    const sortBy = q.get('sort_by') ?? 'id';
    if (sortBy !== 'id' && sortBy !== 'update_time' && sortBy !== 'add_time')
      throw new HttpError(400, 'sort_by must be one of id, update_time, add_time');
    const direction = q.get('sort_direction') ?? 'asc';
    if (direction !== 'asc' && direction !== 'desc') throw new HttpError(400, 'sort_direction must be asc or desc');
    const since = timeParam(url, 'updated_since');
    const until = timeParam(url, 'updated_until');
    const ids = q.get('ids');
    const idSet = ids ? new Set(ids.split(',').map(Number)) : undefined;
    if (idSet && idSet.size > 100) throw new HttpError(400, 'ids must not contain more than 100 ids');
    const filters: Array<[string, number]> = [];
    for (const name of ['owner_id', 'org_id', 'person_id', 'deal_id']) {
      const raw = q.get(name);
      if (raw !== null && raw !== '') filters.push([name, Number(raw)]);
    }
    const customParam = q.get('custom_fields');
    const keys = customParam ? new Set(customParam.split(',').filter(Boolean)) : undefined;
    if (keys && keys.size > 15) throw new HttpError(400, 'custom_fields must not contain more than 15 keys');
    const sortValue = (r: StoredRecord) =>
      sortBy === 'id' ? r.id : sortBy === 'update_time' ? r.updateTime : r.addTime;
    const sign = direction === 'asc' ? 1 : -1;
    const compare = (a: { v: number; id: number }, b: { v: number; id: number }) => sign * (a.v - b.v || a.id - b.id);
    let rows = [...table(entity).values()].filter(
      (r) =>
        (deletedInLists || !r.deleted) &&
        (since === undefined || r.updateTime >= since) &&
        (until === undefined || r.updateTime < until) &&
        (!idSet || idSet.has(r.id)) &&
        filters.every(([name, value]) => r.fields[name] === value),
    );
    rows.sort((a, b) => compare({ v: sortValue(a), id: a.id }, { v: sortValue(b), id: b.id }));
    const cursor = q.get('cursor');
    if (cursor) {
      const after = decodeCursor(cursor);
      rows = rows.filter((r) => compare({ v: sortValue(r), id: r.id }, after) > 0);
    }
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const next = rows.length > limit && last ? encodeCursor(sortValue(last), last.id) : null;
    return {
      body: {
        success: true,
        data: page.map((r) => v2(entity, r, keys)),
        additional_data: { next_cursor: next },
      },
    };
  };

  const getOne = (entity: FakeEntity, id: string): Json => {
    const record = table(entity).get(Number(id));
    if (!record || record.deleted) throw new HttpError(404, `${NOT_FOUND_NAME[entity]} not found`);
    return v2(entity, record);
  };

  const offsetPage = (url: URL, items: Json[], extra: JsonObject = {}): { body: JsonObject } => {
    const rawStart = url.searchParams.get('start');
    const start = rawStart === null || rawStart === '' ? 0 : Number(rawStart);
    if (!Number.isInteger(start) || start < 0) throw new HttpError(400, 'start must be a non-negative integer');
    const limit = limitParam(url);
    const page = items.slice(start, start + limit);
    const more = start + limit < items.length;
    const pagination: JsonObject = { start, limit, more_items_in_collection: more };
    if (more) pagination.next_start = start + limit;
    return { body: { success: true, data: page, additional_data: { ...extra, pagination } } };
  };

  const searchEntity = (entity: SearchEntity, url: URL): { body: JsonObject } => {
    const q = url.searchParams;
    const term = (q.get('term') ?? '').trim();
    const exact = q.get('exact_match') === 'true' || q.get('exact_match') === '1';
    if (term.length < (exact ? 1 : 2))
      throw new HttpError(400, 'term must be at least 2 characters long (1 with exact_match)');
    const allowed = SEARCH_FIELDS[entity];
    const fields = (q.get('fields') ?? allowed.join(',')).split(',');
    for (const f of fields) if (!allowed.includes(f)) throw new HttpError(400, `fields: unknown value ${f}`);
    const limit = limitParam(url);
    const org = q.get('organization_id');
    const person = q.get('person_id');
    const needle = term.toLowerCase();
    const hit = (value: Json | undefined): boolean => {
      if (typeof value !== 'string' && typeof value !== 'number') return false;
      const text = String(value).toLowerCase();
      return exact ? text === needle : text.includes(needle);
    };
    const indexedBy = clock() - searchLagMs;
    const results: JsonObject[] = [];
    for (const r of table(entity).values()) {
      if (r.deleted || r.addTime > indexedBy) continue;
      if (org && r.fields.org_id !== Number(org)) continue;
      if (person && r.fields.person_id !== Number(person)) continue;
      const values = (key: string): Json[] =>
        ((r.fields[key] as JsonObject[] | null) ?? []).map((e) => e.value as Json);
      const customValues = Object.values(r.custom).filter((v) => v !== null);
      const candidates: Record<string, Json[]> = {
        name: [r.fields.name as Json],
        title: [r.fields.title as Json],
        email: values('emails'),
        phone: values('phones'),
        address: [r.fields.address as Json],
        custom_fields: customValues,
        notes: [],
      };
      if (!fields.some((f) => (candidates[f] ?? []).some(hit))) continue;
      const item: JsonObject = {
        id: r.id,
        type: entity,
        visible_to: r.fields.visible_to as Json,
        owner: { id: r.fields.owner_id as Json },
        custom_fields: customValues.map(String),
        notes: [],
        update_time: rfc3339Of(r.updateTime),
      };
      if (entity === 'person') {
        Object.assign(item, {
          name: r.fields.name as Json,
          phones: values('phones'),
          emails: values('emails'),
          organization: r.fields.org_id === null ? null : { id: r.fields.org_id as Json },
        });
      } else if (entity === 'organization') {
        Object.assign(item, { name: r.fields.name as Json, address: r.fields.address as Json });
      } else {
        Object.assign(item, {
          title: r.fields.title as Json,
          value: r.fields.value as Json,
          currency: r.fields.currency as Json,
          status: r.fields.status as Json,
          person: r.fields.person_id === null ? null : { id: r.fields.person_id as Json },
          organization: r.fields.org_id === null ? null : { id: r.fields.org_id as Json },
        });
      }
      results.push({ result_score: exact ? 1 : 0.5, item });
    }
    const cursor = q.get('cursor');
    const start = cursor ? decodeCursor(cursor).v : 0;
    const page = results.slice(start, start + limit);
    const next = start + limit < results.length ? encodeCursor(start + limit, 0) : null;
    return { body: { success: true, data: { items: page }, additional_data: { next_cursor: next } } };
  };

  const fieldList = (entity: FakeEntity): Json[] => {
    const standard = Object.keys(generateFields(entity, 1, seededRandom(1), userId));
    let id = 1;
    const out: JsonObject[] = [
      { id: id++, key: 'id', name: 'ID', field_type: 'int', edit_flag: false },
      ...standard.map((key) => ({
        id: id++,
        key,
        name: key.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()),
        field_type: 'varchar',
        edit_flag: false,
      })),
      { id: id++, key: 'add_time', name: 'Add time', field_type: 'date', edit_flag: false },
      { id: id++, key: 'update_time', name: 'Update time', field_type: 'date', edit_flag: false },
    ];
    for (const field of customFields[entity])
      out.push({ id: id++, key: field.key, name: field.name, field_type: field.field_type, edit_flag: true });
    return out;
  };

  const user = (): JsonObject => ({
    id: userId,
    name: 'Fake Admin',
    email: 'admin@example.com',
    company_id: companyId,
    company_name: 'Fake Company',
    company_domain: companyDomain,
    is_admin: 1,
    active_flag: true,
    timezone_name: 'UTC',
  });

  // ---- routes ----

  const routes: Route[] = [];
  for (const entity of ['person', 'organization', 'deal'] as const) {
    const p = ENTITY_PATHS[entity];
    routes.push({
      method: 'GET',
      pattern: new RegExp(`^v2/${p}/search$`),
      endpoint: () => `GET /api/v2/${p}/search`,
      cost: 'search',
      search: true,
      handle: (ctx) => searchEntity(entity, ctx.url),
    });
  }
  for (const entity of ENTITIES) {
    const p = ENTITY_PATHS[entity];
    const one = new RegExp(`^v2/${p}/(\\d+)$`);
    const list = new RegExp(`^v2/${p}$`);
    routes.push(
      {
        method: 'GET',
        pattern: list,
        endpoint: () => `GET /api/v2/${p}`,
        cost: 'list',
        handle: (ctx) => listV2(entity, ctx.url),
      },
      {
        method: 'GET',
        pattern: one,
        endpoint: () => `GET /api/v2/${p}/{id}`,
        cost: 'get',
        handle: (_ctx, [id]) => getOne(entity, id as string),
      },
      {
        method: 'POST',
        pattern: list,
        endpoint: () => `POST /api/v2/${p}`,
        cost: 'create',
        handle: async (ctx) => {
          const body = await ctx.body();
          const record = insert(entity, pickWritable(entity, body), checkCustom(entity, body.custom_fields), 'api');
          return v2(entity, record);
        },
      },
      {
        method: 'PATCH',
        pattern: one,
        endpoint: () => `PATCH /api/v2/${p}/{id}`,
        cost: 'update',
        handle: async (ctx, [id]) => {
          const body = await ctx.body();
          const record = update(
            entity,
            Number(id),
            pickWritable(entity, body),
            checkCustom(entity, body.custom_fields),
            'api',
          );
          return v2(entity, record);
        },
      },
      {
        method: 'DELETE',
        pattern: one,
        endpoint: () => `DELETE /api/v2/${p}/{id}`,
        cost: 'delete',
        handle: (_ctx, [id]) => {
          softDelete(entity, Number(id), 'api');
          return { id: Number(id) };
        },
      },
    );
  }
  routes.push(
    {
      method: 'GET',
      pattern: /^v1\/webhooks$/,
      endpoint: () => 'GET /v1/webhooks',
      cost: 'list',
      handle: (ctx) => offsetPage(ctx.url, hub.list()),
    },
    {
      method: 'POST',
      pattern: /^v1\/webhooks$/,
      endpoint: () => 'POST /v1/webhooks',
      cost: 'create',
      handle: async (ctx) => {
        const checked = checkRegistration(await ctx.body());
        if ('error' in checked) throw new HttpError(400, checked.error);
        const owner = checked.user_id ?? ctx.userId;
        if (hub.countForUser(owner) >= WEBHOOKS_PER_USER)
          throw new HttpError(422, `A user can have at most ${WEBHOOKS_PER_USER} webhooks`);
        const registration = hub.register({ ...checked, user_id: owner });
        return { status: 201, body: { success: true, status: 'ok', data: hub.render(registration.id) as JsonObject } };
      },
    },
    {
      method: 'DELETE',
      pattern: /^v1\/webhooks\/(\d+)$/,
      endpoint: () => 'DELETE /v1/webhooks/{id}',
      cost: 'delete',
      handle: (_ctx, [id]) => {
        if (!hub.remove(Number(id))) throw new HttpError(404, 'Webhook not found');
        return { body: { success: true, status: 'ok', data: { id: Number(id) } } };
      },
    },
    {
      method: 'GET',
      pattern: /^v1\/users\/me$/,
      endpoint: () => 'GET /v1/users/me',
      cost: 'get',
      handle: () => user(),
    },
    {
      method: 'GET',
      pattern: /^v1\/users$/,
      endpoint: () => 'GET /v1/users',
      cost: 'list',
      handle: (ctx) => offsetPage(ctx.url, [user()]),
    },
    {
      method: 'GET',
      pattern: /^v1\/recents$/,
      endpoint: () => 'GET /v1/recents',
      cost: 'list',
      handle: (ctx) => {
        const q = ctx.url.searchParams;
        const raw = q.get('since_timestamp');
        if (!raw || !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(raw))
          throw new HttpError(400, 'since_timestamp is required (YYYY-MM-DD HH:MM:SS)');
        const since = Date.parse(`${raw.replace(' ', 'T')}Z`);
        const items = (q.get('items') ?? ENTITIES.join(',')).split(',');
        for (const item of items) if (!(item in ENTITY_PATHS)) throw new HttpError(400, `items: unknown value ${item}`);
        const rows: Array<{ entity: FakeEntity; record: StoredRecord }> = [];
        for (const entity of items as FakeEntity[])
          for (const record of table(entity).values())
            if (Math.floor(record.updateTime / 1000) * 1000 >= since) rows.push({ entity, record });
        rows.sort((a, b) => a.record.updateTime - b.record.updateTime || a.record.id - b.record.id);
        const data = rows.map(({ entity, record }) => ({ item: entity, id: record.id, data: v1(entity, record) }));
        const last = rows[rows.length - 1];
        return offsetPage(ctx.url, data, {
          since_timestamp: raw,
          last_timestamp_on_page: last ? v1Time(last.record.updateTime) : raw,
        });
      },
    },
  );
  for (const entity of ['person', 'organization', 'deal', 'product', 'activity'] as const) {
    const name = `${entity}Fields`;
    routes.push({
      method: 'GET',
      pattern: new RegExp(`^v1/${name}$`),
      endpoint: () => `GET /v1/${name}`,
      cost: 'list',
      handle: (ctx) => offsetPage(ctx.url, fieldList(entity)),
    });
  }

  // ---- limits ----

  const windowFor = (label: string, auth: PipedriveAuth, search: boolean): RollingWindow => {
    const key = `${label}|${search ? 'search' : 'general'}`;
    let window = windows.get(key);
    if (!window) {
      const limit = search
        ? (options.burst?.search ?? pipedriveBurstLimit(plan, auth, { search: true }).requests)
        : (options.burst?.[auth] ?? pipedriveBurstLimit(plan, auth).requests);
      window = new RollingWindow(limit, windowMs);
      windows.set(key, window);
    }
    return window;
  };

  const budgetLeft = (now: number): number => {
    if (dailyBudget === undefined) return Number.POSITIVE_INFINITY;
    const day = budgetDayStart(now, utcOffset);
    if (day !== budgetDay) {
      budgetDay = day;
      budgetUsed = 0;
    }
    return dailyBudget - budgetUsed;
  };

  const costOf = (kind: CostKind, version: 'v1' | 'v2'): number =>
    version === 'v1' ? V1_COSTS[kind] : Math.max(1, Math.ceil(V1_COSTS[kind] * v2Ratio));

  // ---- auth ----

  const authenticate = (request: Request, url: URL): { label: string; auth: PipedriveAuth } | Response => {
    const unauthorized = (message: string) => json(401, envelopeError(401, message));
    const header = request.headers.get('x-api-token');
    const bearer = request.headers.get('authorization');
    if (header !== null) {
      if (!apiTokens.includes(header)) return unauthorized('unauthorized access');
      return { label: header, auth: 'api_token' };
    }
    if (bearer !== null) {
      const match = /^Bearer\s+(.+)$/i.exec(bearer);
      const token = match?.[1]?.trim();
      const found = token ? accessTokens.get(token) : undefined;
      if (!found) return unauthorized('unauthorized access');
      if (found.expiresAt <= clock()) return unauthorized('Access token expired');
      return { label: `oauth:${found.grant}`, auth: 'oauth' };
    }
    const query = url.searchParams.get('api_token');
    if (query !== null) {
      if (!options.acceptQueryToken) return unauthorized('unauthorized access');
      if (!apiTokens.includes(query)) return unauthorized('unauthorized access');
      return { label: query, auth: 'api_token' };
    }
    return unauthorized('You need to be authorized to make this request.');
  };

  const issue = (grantId: number, apiDomain?: string): FakeOAuthTokens => {
    const grant = grants.get(grantId) as Grant;
    const access = `v1u:${random.hex(64)}`;
    accessTokens.set(access, { grant: grantId, expiresAt: clock() + oauth.ttl });
    return {
      access_token: access,
      refresh_token: grant.refreshToken,
      token_type: 'Bearer',
      expires_in: Math.floor(oauth.ttl / 1000),
      scope: 'base,contacts:full,deals:full,activities:full,products:full',
      api_domain: apiDomain ?? oauth.apiDomain ?? `https://${companyDomain}.pipedrive.com`,
    };
  };

  const newGrant = (): number => {
    const id = nextGrant++;
    const refreshToken = `${companyId}:${userId}:${random.hex(40)}`;
    grants.set(id, { id, refreshToken });
    refreshTokens.set(refreshToken, id);
    return id;
  };

  const tokenEndpoint = async (request: Request): Promise<Response> => {
    const oauthError = (status: number, error: string, description: string) =>
      json(status, { success: false, error, error_description: description, message: description });
    if (request.method.toUpperCase() !== 'POST') return oauthError(405, 'invalid_request', 'Use POST');
    const basic = /^Basic\s+(.+)$/i.exec(request.headers.get('authorization') ?? '');
    let client: string[] = [];
    try {
      client = basic?.[1] ? atob(basic[1]).split(':') : [];
    } catch {}
    const text = await request.text();
    const form = new URLSearchParams(text);
    const clientId = client[0] ?? form.get('client_id');
    const clientSecret = client[1] ?? form.get('client_secret');
    if (clientId !== oauth.clientId || clientSecret !== oauth.clientSecret)
      return oauthError(401, 'invalid_client', 'Invalid client credentials');
    const grantType = form.get('grant_type');
    const origin = new URL(request.url);
    const local = !origin.hostname.endsWith('pipedrive.com') ? origin.origin : undefined;
    if (grantType === 'refresh_token') {
      const token = form.get('refresh_token') ?? '';
      const grantId = refreshTokens.get(token);
      if (grantId === undefined) return oauthError(400, 'invalid_grant', 'Invalid refresh token');
      if (oauth.rotate) {
        refreshTokens.delete(token);
        const next = `${companyId}:${userId}:${random.hex(40)}`;
        (grants.get(grantId) as Grant).refreshToken = next;
        refreshTokens.set(next, grantId);
      }
      return json(200, issue(grantId, local));
    }
    if (grantType === 'authorization_code') {
      const code = form.get('code') ?? '';
      const grantId = codes.get(code);
      if (grantId === undefined) return oauthError(400, 'invalid_grant', 'Invalid authorization code');
      codes.delete(code);
      return json(200, issue(grantId, local));
    }
    return oauthError(400, 'unsupported_grant_type', 'grant_type must be refresh_token or authorization_code');
  };

  // ---- request handling ----

  const route = (url: URL): { version: 'v1' | 'v2'; rest: string } | 'oauth' | undefined => {
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/oauth/token') return 'oauth';
    let match = /^\/api\/(v1|v2)\/(.+)$/.exec(path);
    if (match) return { version: match[1] as 'v1' | 'v2', rest: match[2] as string };
    match = /^\/v1\/(.+)$/.exec(path);
    if (match) return { version: 'v1', rest: match[1] as string };
    return undefined;
  };

  const takeFault = (method: string, path: string): FakePipedriveFault | undefined => {
    const index = faults.findIndex(
      (f) =>
        f.left > 0 &&
        (!f.method || f.method.toUpperCase() === method) &&
        (!f.path || (typeof f.path === 'string' ? f.path === path : f.path.test(path))),
    );
    const found = faults[index];
    if (!found) return undefined;
    found.left--;
    if (found.left <= 0) faults.splice(index, 1);
    return found.fault;
  };

  const hang = (request: Request): Promise<Response> =>
    new Promise<Response>((_, reject) => {
      const signal = request.signal;
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });

  async function answer(request: Request, record: FakePipedriveRequest): Promise<Response> {
    const url = new URL(request.url);
    const method = request.method.toUpperCase();
    const target = route(url);
    if (target === 'oauth') {
      record.endpoint = 'POST /oauth/token';
      return tokenEndpoint(request);
    }
    const found = target
      ? routes
          .map((r) => ({ r, m: r.method === method ? r.pattern.exec(`${target.version}/${target.rest}`) : null }))
          .find((x) => x.m !== null)
      : undefined;
    record.endpoint = found ? found.r.endpoint(url.pathname) : `${method} ${url.pathname}`;

    const who = authenticate(request, url);
    if (who instanceof Response) return who;
    record.token = who.label;
    const now = arrivals.get(request) ?? clock();
    record.at = now;

    const state = bans.get(who.label) ?? { limitedUntil: 0, strikes: 0, bannedUntil: 0 };
    bans.set(who.label, state);
    if (state.bannedUntil > now) {
      return new Response(banPage(url.host), {
        status: 403,
        headers: {
          'content-type': 'text/html; charset=UTF-8',
          server: 'cloudflare',
          'cf-ray': `${random.hex(16)}-AMS`,
        },
      });
    }

    const headers: Record<string, string> = {};
    const search = found?.r.search === true;
    if (rateLimit) {
      const windowsToCheck = search
        ? [windowFor(who.label, who.auth, false), windowFor(who.label, who.auth, true)]
        : [windowFor(who.label, who.auth, false)];
      const full = windowsToCheck.find((w) => w.resetMs(now) > 0);
      const shown = full ?? (windowsToCheck[windowsToCheck.length - 1] as RollingWindow);
      if (full) {
        const resetMs = full.resetMs(now);
        if (state.limitedUntil > now && ban) {
          state.strikes++;
          if (state.strikes >= ban.strikes) {
            state.bannedUntil = now + ban.durationMs;
            state.strikes = 0;
            state.limitedUntil = 0;
            banEvents.set(who.label, (banEvents.get(who.label) ?? 0) + 1);
          }
        }
        state.limitedUntil = Math.max(state.limitedUntil, now + resetMs);
        return json(429, envelopeError(429, 'Request over limit'), {
          'x-ratelimit-limit': String(full.limit),
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Math.ceil(resetMs / 1000)),
          ...dailyHeaderValues(now),
        });
      }
      for (const w of windowsToCheck) w.take(now);
      headers['x-ratelimit-limit'] = String(shown.limit);
      headers['x-ratelimit-remaining'] = String(shown.limit - shown.used(now));
      headers['x-ratelimit-reset'] = String(Math.ceil(shown.nextFreeMs(now) / 1000));
    }

    const fault = takeFault(method, url.pathname);
    if (fault?.kind === 'connection') return Response.error();
    if (fault?.kind === 'hang') return hang(request);
    if (fault?.kind === 'status')
      return json(
        fault.status,
        envelopeError(fault.status, fault.message ?? `Injected failure (${fault.status})`),
        headers,
      );

    if (!found) return json(404, envelopeError(404, 'Unknown method .'), headers);

    if (found.r.cost) {
      const cost = costOf(found.r.cost, target ? target.version : 'v1');
      if (budgetLeft(now) < cost) {
        return json(429, envelopeError(429, 'Daily token budget exceeded', { code: 'daily_limit_exceeded' }), {
          ...headers,
          ...dailyHeaderValues(now),
        });
      }
      budgetUsed += cost;
      record.cost = cost;
    }
    Object.assign(headers, dailyHeaderValues(now));

    let response: Response;
    try {
      const ctx: RouteContext = {
        url,
        userId,
        body: async () => {
          const type = request.headers.get('content-type') ?? '';
          const text = await request.text();
          if (!text) return {};
          if (type.includes('application/x-www-form-urlencoded')) {
            const out: JsonObject = {};
            for (const [k, v] of new URLSearchParams(text)) out[k] = v;
            return out;
          }
          try {
            const parsed = JSON.parse(text) as Json;
            if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
              throw new HttpError(400, 'Request body must be a JSON object');
            return parsed;
          } catch (error) {
            if (error instanceof HttpError) throw error;
            throw new HttpError(400, 'Request body is not valid JSON');
          }
        },
      };
      const result = await found.r.handle(ctx, (found.m as RegExpExecArray).slice(1));
      const wrapped =
        result !== null && typeof result === 'object' && !Array.isArray(result) && 'body' in result
          ? (result as { body: JsonObject; status?: number })
          : { body: { success: true, data: result as Json } };
      response = json(wrapped.status ?? 200, wrapped.body, headers);
      if (fault?.kind === 'bad_json') {
        const text = JSON.stringify(wrapped.body);
        response = new Response(text.slice(0, Math.max(1, Math.floor(text.length / 2))), {
          status: wrapped.status ?? 200,
          headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
        });
      } else if (fault?.kind === 'missing_additional_data') {
        const { additional_data: _dropped, ...rest } = wrapped.body;
        response = json(wrapped.status ?? 200, rest, headers);
      }
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      response = json(error.status, envelopeError(error.status, error.message, error.extra), headers);
    }
    return response;
  }

  function dailyHeaderValues(now: number): Record<string, string> {
    if (!dailyHeaders || dailyBudget === undefined) return {};
    if (typeof dailyHeaders === 'number' && headerRandom.next() >= dailyHeaders) return {};
    return {
      'x-daily-ratelimit-token-limit': String(dailyBudget),
      'x-daily-ratelimit-token-remaining': String(Math.max(0, budgetLeft(now))),
    };
  }

  const handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const record: FakePipedriveRequest = {
      at: arrivals.get(request) ?? clock(),
      method: request.method.toUpperCase(),
      path: url.pathname,
      endpoint: '',
      token: null,
      status: 0,
      cost: 0,
    };
    requests.push(record);
    const response = await answer(request, record);
    record.status = response.type === 'error' ? 0 : response.status;
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

  const entityArg = (api: string, entity: unknown): FakeEntity => {
    if (typeof entity !== 'string' || !(entity in ENTITY_PATHS))
      throw usage(api, `entity must be one of ${ENTITIES.join(', ')}`);
    return entity as FakeEntity;
  };

  const serverSide = <T>(api: string, run: () => T): T => {
    try {
      return run();
    } catch (error) {
      if (error instanceof HttpError) throw usage(api, error.message);
      throw error;
    }
  };

  return {
    handle,
    fetch: fakeFetch,
    listen: (listenOptions = {}) => listen(handle, listenOptions.port ?? 0, clock),
    companyDomain,
    apiTokens,
    customFields,
    seed(counts, seedOptions = {}) {
      const generator = seededRandom(seedOptions.seed ?? seedValue);
      for (const [name, count] of Object.entries(counts)) {
        const entity = entityArg('seed', name);
        if (!Number.isInteger(count) || (count as number) < 0)
          throw usage('seed', `${entity}: count must be a non-negative integer`);
        const now = clock();
        for (let i = 0; i < (count as number); i++) {
          const id = nextId.get(entity) as number;
          nextId.set(entity, id + 1);
          const addTime = now - ((count as number) - i) * 60_000;
          const updateTime = Math.min(now - 1, addTime + generator.int(3_600_000));
          table(entity).set(id, {
            id,
            fields: generateFields(entity, id, generator, userId),
            custom: generateCustom(customFields[entity], id),
            addTime,
            updateTime,
            deleted: false,
          });
        }
      }
    },
    create: (entity, fields, createOptions = {}) =>
      serverSide('create', () => {
        const e = entityArg('create', entity);
        return v2(e, insert(e, pickWritable(e, fields), checkCustom(e, createOptions.custom), 'app'));
      }),
    edit: (entity, id, patch, editOptions = {}) =>
      serverSide('edit', () => {
        const e = entityArg('edit', entity);
        return v2(e, update(e, id, pickWritable(e, patch), checkCustom(e, editOptions.custom), 'app'));
      }),
    remove: (entity, id) =>
      serverSide('remove', () => {
        softDelete(entityArg('remove', entity), id, 'app');
      }),
    record(entity, id) {
      const e = entityArg('record', entity);
      const r = table(e).get(id);
      return r ? v2(e, r) : undefined;
    },
    records(entity) {
      const e = entityArg('records', entity);
      return [...table(e).values()].map((r) => v2(e, r));
    },
    renameField(entity, from, to) {
      const map = renames.get(entityArg('renameField', entity)) as Map<string, string>;
      if (to === null) map.delete(from);
      else map.set(from, to);
    },
    fault(fault, faultOptions = {}) {
      const kinds = ['status', 'bad_json', 'missing_additional_data', 'hang', 'connection'];
      if (!kinds.includes((fault as { kind?: string } | null)?.kind as string))
        throw usage('fault', `fault.kind must be one of ${kinds.join(', ')}`);
      if (fault.kind === 'status' && !(Number.isInteger(fault.status) && fault.status >= 400 && fault.status <= 599))
        throw usage('fault', 'fault.status must be an HTTP error status (400-599)');
      const times = faultOptions.times ?? 1;
      if (!(times === Number.POSITIVE_INFINITY || (Number.isInteger(times) && times > 0)))
        throw usage('fault', 'times must be a positive integer or Infinity');
      const entry: (typeof faults)[number] = { fault, left: times };
      if (faultOptions.method) entry.method = faultOptions.method;
      if (faultOptions.path) entry.path = faultOptions.path;
      faults.push(entry);
    },
    clearFaults() {
      faults.length = 0;
    },
    requests,
    stats() {
      const stats: FakePipedriveStats = {
        requests: 0,
        rateLimited: 0,
        banned: 0,
        bans: 0,
        byToken: {},
        byEndpoint: {},
      };
      for (const r of requests) {
        stats.requests++;
        const limited = r.status === 429 ? 1 : 0;
        const banned = r.status === 403 && r.token !== null && r.endpoint !== '' ? 1 : 0;
        stats.rateLimited += limited;
        stats.banned += banned;
        if (r.token !== null) {
          const t = stats.byToken[r.token] ?? { requests: 0, rateLimited: 0, banned: 0, bans: 0 };
          t.requests++;
          t.rateLimited += limited;
          t.banned += banned;
          stats.byToken[r.token] = t;
        }
        const e = stats.byEndpoint[r.endpoint] ?? { requests: 0, rateLimited: 0 };
        e.requests++;
        e.rateLimited += limited;
        stats.byEndpoint[r.endpoint] = e;
      }
      for (const [token, n] of banEvents) {
        stats.bans += n;
        const t = stats.byToken[token] ?? { requests: 0, rateLimited: 0, banned: 0, bans: 0 };
        t.bans = n;
        stats.byToken[token] = t;
      }
      return stats;
    },
    issueOAuthTokens: (issueOptions = {}) => issue(newGrant(), issueOptions.apiDomain),
    authorizationCode() {
      const code = random.hex(32);
      codes.set(code, newGrant());
      return code;
    },
    expireAccessTokens() {
      const now = clock();
      for (const token of accessTokens.values()) token.expiresAt = Math.min(token.expiresAt, now);
    },
    budgetRemaining: () => budgetLeft(clock()),
    webhooks: () =>
      hub.list().map((w) => ({
        id: w.id as number,
        subscription_url: w.subscription_url as string,
        event_action: w.event_action as string,
        event_object: w.event_object as string,
        version: w.version as '1.0' | '2.0',
        http_auth_user: w.http_auth_user as string | null,
        http_auth_password: w.http_auth_password as string | null,
        name: w.name as string | null,
        user_id: w.user_id as number,
      })),
    deliveries: hub.deliveries,
    webhookBan: (id) => hub.banState(id),
    webhooksIdle: () => hub.idle(),
  };
}

function emptyOf(value: Json | undefined): Json {
  if (Array.isArray(value)) return [];
  if (typeof value === 'boolean') return false;
  return null;
}

function rfc3339Of(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

async function listen(
  handle: (request: Request) => Promise<Response>,
  port: number,
  clock: () => number,
): Promise<FakePipedriveServer> {
  const server = await serveFetch(handle, {
    port,
    clock,
    onArrival: (request, at) => arrivals.set(request, at),
    crashResponse: (error) =>
      Response.json(envelopeError(500, `fake Pipedrive crashed: ${String(error)}`), { status: 500 }),
  });
  return { url: server.url, port: server.port, close: () => server.close() };
}
