import type { FakeEntity, JsonObject } from './records';

/** How the fake delivers webhooks. */
export interface FakeWebhookOptions {
  /**
   * Where deliveries go instead of the network: gets each delivery as a
   * `Request` to the webhook's `subscription_url` (e.g. an app's `fetch`
   * handler). Without it, deliveries use the global `fetch`.
   */
  target?: (request: Request) => Promise<Response>;
  /**
   * Pauses before the 2nd, 3rd and 4th attempt. Pipedrive retries after 3, 30 and 150 s;
   * pass e.g. `[3, 30, 150]` to compress the schedule for a bench.
   * @default [3000, 30000, 150000]
   */
  retryDelaysMs?: readonly number[];
  /**
   * An attempt that takes longer fails.
   * @default 10_000
   */
  timeoutMs?: number;
  /**
   * Failed first attempts that ban the webhook.
   * @default 10
   */
  banAfter?: number;
  /**
   * How long a ban lasts; events during it are lost.
   * @default 1_800_000 (30 min)
   */
  banMs?: number;
  /**
   * Whether a successful first attempt sets the ban counter back to zero.
   * The docs do not say (UNVERIFIED); the default, false, is the strict reading.
   * @default false
   */
  counterResetsOnSuccess?: boolean;
}

/** A webhook registered through `POST /v1/webhooks`, as `GET /v1/webhooks` shows it. */
export interface FakeWebhookRegistration {
  id: number;
  subscription_url: string;
  event_action: string;
  event_object: string;
  version: '1.0' | '2.0';
  http_auth_user: string | null;
  http_auth_password: string | null;
  name: string | null;
  user_id: number;
}

/** One delivery attempt (or a lost event), for assertions. */
export interface FakeWebhookDelivery {
  webhookId: number;
  /** `meta.id` (v2) or `meta.id`-less v1 event key `${object}.${id}.${timestamp}`. */
  eventId: string;
  /** 1 to 4; 0 for an event lost to a ban. */
  attempt: number;
  /** HTTP status, 0 for a network error or timeout, -1 for an event lost to a ban. */
  status: number;
  outcome: 'delivered' | 'failed' | 'lost';
  /** When the attempt started, on the fake's clock. */
  at: number;
  /** The JSON body sent. */
  body: JsonObject;
}

/** A change to deliver. */
export interface WebhookChange {
  entity: FakeEntity;
  action: 'create' | 'change' | 'delete';
  id: number;
  /** v2 shapes (already renamed as the fake's payload renames say). */
  current: JsonObject | null;
  previous: JsonObject | null;
  /** v1 shapes. */
  currentV1: JsonObject | null;
  previousV1: JsonObject | null;
  source: 'app' | 'api';
  userId: number;
}

interface WebhookState {
  registration: FakeWebhookRegistration;
  failures: number;
  bannedUntil: number;
  addTime: number;
  lastDelivery: number | null;
  lastStatus: number | null;
}

const V1_ACTION = { create: 'added', change: 'updated', delete: 'deleted' } as const;
const ACTIONS = new Set(['create', 'change', 'delete', '*', 'added', 'updated', 'deleted', 'merged']);
const OBJECTS = new Set([
  'activity',
  'deal',
  'lead',
  'note',
  'organization',
  'person',
  'pipeline',
  'product',
  'stage',
  'user',
  '*',
]);

/** Pipedrive's limit of webhooks per user. */
export const WEBHOOKS_PER_USER = 40;

/** The registration checks of `POST /v1/webhooks`: a message for each bad input, or the normalized values. */
export function checkRegistration(
  body: JsonObject,
): { error: string } | (Omit<FakeWebhookRegistration, 'id' | 'user_id'> & { user_id?: number }) {
  const url = body.subscription_url;
  if (typeof url !== 'string' || !URL.canParse(url)) return { error: 'subscription_url must be a valid URL' };
  const action = body.event_action;
  if (typeof action !== 'string' || !ACTIONS.has(action)) return { error: 'Event action is invalid' };
  const object = body.event_object;
  if (typeof object !== 'string' || !OBJECTS.has(object)) return { error: 'Event object is invalid' };
  const version = body.version ?? '2.0';
  if (version !== '1.0' && version !== '2.0') return { error: 'version must be 1.0 or 2.0' };
  const user = body.http_auth_user;
  const password = body.http_auth_password;
  if (user !== undefined && user !== null && typeof user !== 'string') return { error: 'http_auth_user is invalid' };
  if (password !== undefined && password !== null && typeof password !== 'string')
    return { error: 'http_auth_password is invalid' };
  const out: Omit<FakeWebhookRegistration, 'id' | 'user_id'> & { user_id?: number } = {
    subscription_url: url,
    event_action: action,
    event_object: object,
    version,
    http_auth_user: typeof user === 'string' ? user : null,
    http_auth_password: typeof password === 'string' ? password : null,
    name: typeof body.name === 'string' ? body.name : null,
  };
  if (typeof body.user_id === 'number') out.user_id = body.user_id;
  return out;
}

function matches(registration: FakeWebhookRegistration, change: WebhookChange): boolean {
  const object = registration.event_object;
  if (object !== '*' && object !== change.entity) return false;
  const action = registration.event_action;
  return action === '*' || action === change.action || action === V1_ACTION[change.action];
}

/** The webhook side of the fake: registrations, payloads, the retry schedule and the ban. */
export class WebhookHub {
  readonly deliveries: FakeWebhookDelivery[] = [];
  readonly #hooks = new Map<number, WebhookState>();
  readonly #pending = new Set<Promise<void>>();
  readonly #options: Required<Omit<FakeWebhookOptions, 'target'>> & Pick<FakeWebhookOptions, 'target'>;
  #nextId = 1;
  #timers = 0;
  /** Pending retries. Unreferenced unless someone awaits `idle()`: a failed delivery's retry, minutes away, must not keep a finished test process alive. */
  readonly #retryTimers = new Set<{ ref?: () => unknown; unref?: () => unknown }>();
  readonly #idleWaiters: Array<() => void> = [];

  constructor(
    options: FakeWebhookOptions,
    private readonly clock: () => number,
    private readonly uuid: () => string,
    private readonly company: { id: number; domain: string },
  ) {
    this.#options = {
      retryDelaysMs: options.retryDelaysMs ?? [3000, 30_000, 150_000],
      timeoutMs: options.timeoutMs ?? 10_000,
      banAfter: options.banAfter ?? 10,
      banMs: options.banMs ?? 1_800_000,
      counterResetsOnSuccess: options.counterResetsOnSuccess ?? false,
      ...(options.target ? { target: options.target } : {}),
    };
  }

  register(values: Omit<FakeWebhookRegistration, 'id'>): FakeWebhookRegistration {
    const registration: FakeWebhookRegistration = { id: this.#nextId++, ...values };
    this.#hooks.set(registration.id, {
      registration,
      failures: 0,
      bannedUntil: 0,
      addTime: this.clock(),
      lastDelivery: null,
      lastStatus: null,
    });
    return registration;
  }

  countForUser(userId: number): number {
    let n = 0;
    for (const hook of this.#hooks.values()) if (hook.registration.user_id === userId) n++;
    return n;
  }

  remove(id: number): boolean {
    return this.#hooks.delete(id);
  }

  /** The API's view of each webhook (`GET /v1/webhooks`). */
  list(): JsonObject[] {
    return [...this.#hooks.values()].map((hook) => this.render(hook.registration.id) as JsonObject);
  }

  render(id: number): JsonObject | undefined {
    const hook = this.#hooks.get(id);
    if (!hook) return undefined;
    const r = hook.registration;
    return {
      id: r.id,
      company_id: this.company.id,
      owner_id: r.user_id,
      user_id: r.user_id,
      event_action: r.event_action,
      event_object: r.event_object,
      subscription_url: r.subscription_url,
      version: r.version,
      is_active: 1,
      add_time: new Date(hook.addTime).toISOString(),
      remove_time: null,
      type: 'general',
      http_auth_user: r.http_auth_user,
      http_auth_password: r.http_auth_password,
      remove_reason: null,
      last_delivery_time: hook.lastDelivery === null ? null : new Date(hook.lastDelivery).toISOString(),
      last_http_status: hook.lastStatus,
      admin_id: r.user_id,
      name: r.name,
    };
  }

  /** Whether the webhook is banned now, and until when. */
  banState(id: number): { banned: boolean; until: number; failures: number } | undefined {
    const hook = this.#hooks.get(id);
    if (!hook) return undefined;
    return { banned: hook.bannedUntil > this.clock(), until: hook.bannedUntil, failures: hook.failures };
  }

  /** Sends a change to every matching webhook (first attempts start now; retries follow the schedule). */
  dispatch(change: WebhookChange): void {
    for (const hook of this.#hooks.values()) {
      if (!matches(hook.registration, change)) continue;
      const body = this.#payload(hook.registration, change);
      const eventId = this.#eventId(body);
      if (hook.bannedUntil > this.clock()) {
        this.deliveries.push({
          webhookId: hook.registration.id,
          eventId,
          attempt: 0,
          status: -1,
          outcome: 'lost',
          at: this.clock(),
          body,
        });
        continue;
      }
      this.#track(this.#attempt(hook, body, eventId, 1));
    }
  }

  /** Resolves when no attempt is in flight and no retry is scheduled. */
  idle(): Promise<void> {
    if (this.#pending.size === 0 && this.#timers === 0) return Promise.resolve();
    // awaited: the retries now keep the process alive until they have run
    for (const timer of this.#retryTimers) timer.ref?.();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #track(promise: Promise<void>): void {
    this.#pending.add(promise);
    void promise.finally(() => {
      this.#pending.delete(promise);
      this.#checkIdle();
    });
  }

  #checkIdle(): void {
    if (this.#pending.size > 0 || this.#timers > 0) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  #eventId(body: JsonObject): string {
    const meta = body.meta as JsonObject;
    if (typeof meta.id === 'string') return meta.id;
    return `${String(meta.object)}.${String(meta.id)}.${String(meta.timestamp_micro ?? meta.timestamp)}`;
  }

  #payload(registration: FakeWebhookRegistration, change: WebhookChange): JsonObject {
    const now = this.clock();
    const host = `${this.company.domain}.pipedrive.com`;
    if (registration.version === '2.0') {
      const meta: JsonObject = {
        action: change.action,
        entity: change.entity,
        company_id: String(this.company.id),
        correlation_id: this.uuid(),
        entity_id: String(change.id),
        id: this.uuid(),
        is_bulk_edit: false,
        timestamp: new Date(now).toISOString(),
        type: 'general',
        user_id: String(change.userId),
        version: '2.0',
        webhook_id: String(registration.id),
        webhook_owner_id: String(registration.user_id),
        change_source: change.source,
        attempt: 1,
        host,
        permitted_user_ids: [String(change.userId)],
      };
      return { meta, data: change.current, previous: change.previous };
    }
    const action = V1_ACTION[change.action];
    return {
      v: 1,
      matches_filters: null,
      meta: {
        v: 1,
        action,
        object: change.entity,
        id: change.id,
        company_id: this.company.id,
        user_id: change.userId,
        host,
        timestamp: Math.floor(now / 1000),
        timestamp_micro: now * 1000,
        permission_level: 'admin',
        pipedrive_service_name: false,
        is_bulk_update: false,
        webhook_id: String(registration.id),
        change_source: change.source,
      },
      retry: 0,
      current: change.currentV1,
      previous: change.previousV1,
      event: `${action}.${change.entity}`,
    };
  }

  async #attempt(hook: WebhookState, template: JsonObject, eventId: string, attempt: number): Promise<void> {
    const body = structuredClone(template);
    if (hook.registration.version === '2.0') (body.meta as JsonObject).attempt = attempt;
    else body.retry = attempt - 1;
    const at = this.clock();
    const status = await this.#post(hook.registration, body);
    const ok = status >= 200 && status < 300;
    hook.lastDelivery = at;
    hook.lastStatus = status;
    this.deliveries.push({
      webhookId: hook.registration.id,
      eventId,
      attempt,
      status,
      outcome: ok ? 'delivered' : 'failed',
      at,
      body,
    });
    if (attempt === 1) {
      if (!ok) {
        hook.failures++;
        if (hook.failures >= this.#options.banAfter) {
          hook.bannedUntil = this.clock() + this.#options.banMs;
          hook.failures = 0;
        }
      } else if (this.#options.counterResetsOnSuccess) hook.failures = 0;
    }
    if (ok) return;
    const delay = this.#options.retryDelaysMs[attempt - 1];
    if (delay === undefined) return;
    this.#timers++;
    const timer = setTimeout(() => {
      this.#retryTimers.delete(timer);
      this.#timers--;
      if (!this.#hooks.has(hook.registration.id)) {
        this.#checkIdle();
        return;
      }
      if (hook.bannedUntil > this.clock()) {
        this.deliveries.push({
          webhookId: hook.registration.id,
          eventId,
          attempt: 0,
          status: -1,
          outcome: 'lost',
          at: this.clock(),
          body: template,
        });
        this.#checkIdle();
        return;
      }
      this.#track(this.#attempt(hook, template, eventId, attempt + 1));
    }, delay) as { ref?: () => unknown; unref?: () => unknown };
    this.#retryTimers.add(timer);
    if (this.#idleWaiters.length === 0) timer.unref?.();
  }

  async #post(registration: FakeWebhookRegistration, body: JsonObject): Promise<number> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'Pipedrive Webhooks',
    };
    if (registration.http_auth_user !== null) {
      const pair = `${registration.http_auth_user}:${registration.http_auth_password ?? ''}`;
      headers.authorization = `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(pair)))}`;
    }
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<number>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve(0);
      }, this.#options.timeoutMs);
    });
    const request = new Request(registration.subscription_url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    const send = async (): Promise<number> => {
      try {
        const target = this.#options.target;
        const response = target ? await target(request) : await fetch(request);
        await response.arrayBuffer().catch(() => undefined);
        return response.status;
      } catch {
        return 0;
      }
    };
    try {
      return await Promise.race([send(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
