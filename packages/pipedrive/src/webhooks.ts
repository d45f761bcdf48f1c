import { type VersionGuard, type VersionStore, versionGuard } from '@ballast/core/idempotency';
import {
  createWebhookHandler,
  type DeliveryVerifier,
  type Inbox,
  type InboxHandlerContext,
  type InboxHandlers,
  type InboxQueue,
  permanentFailure,
  type WebhookHandler,
  type WebhookHandlerOptions,
} from '@ballast/core/inbox';
import { memoryVersionStore } from '@ballast/core/stores/memory';
import { createWebhookVerifier, type SecretInput } from '@ballast/core/webhooks';
import {
  type PipedriveTypedEntity,
  type PipedriveWebhookAction,
  type PipedriveWebhookEvent,
  parsePipedriveEvent,
  pipedriveEventType,
} from './events';
import { PipedriveWebhookError } from './webhook-errors';

/** What a Pipedrive event handler receives besides the event. */
export interface PipedriveHandlerContext extends InboxHandlerContext {
  /**
   * True when an event about the same object with a later timestamp was
   * already handled, so this one describes an older state: a handler that
   * mirrors state must not write it. Handlers see stale events with
   * `skipStale: false`, and always for `create` events, which are never skipped.
   */
  stale: boolean;
}

/** Handles one event; throwing fails the attempt, which the inbox retries with backoff. */
export type PipedriveEventHandler<E> = {
  // a method signature keeps the parameter bivariant, so typed handlers fit the untyped index below
  handle(event: E, context: PipedriveHandlerContext): unknown;
}['handle'];

type EventOfKey<K extends string> = K extends `${infer E}.${infer A extends PipedriveWebhookAction}`
  ? PipedriveWebhookEvent<E, A>
  : K extends `${infer E}.*`
    ? PipedriveWebhookEvent<E>
    : PipedriveWebhookEvent;

/**
 * Handlers by `<entity>.<action>` (`person.change`), by entity (`deal.*`), or
 * `'*'` for every event without a more specific handler. Persons,
 * organizations and deals get their typed event; any other entity the
 * untyped one.
 */
export type PipedriveWebhookHandlers = {
  [K in `${PipedriveTypedEntity}.${PipedriveWebhookAction}` | `${PipedriveTypedEntity}.*`]?: PipedriveEventHandler<
    EventOfKey<K>
  >;
} & {
  [type: string]: PipedriveEventHandler<PipedriveWebhookEvent> | undefined;
};

/** Options for {@link pipedriveEventHandlers}. */
export interface PipedriveEventHandlersOptions {
  /**
   * Where the timestamp of the last handled event of each object lives, for
   * the out-of-order guard (`<entity>:<id>`); `false` turns the guard off.
   * Use `sqlVersionStore(db)` when several processes (or a serverless drain)
   * handle events.
   * @default memoryVersionStore()
   */
  versions?: VersionStore | false;
  /**
   * Skip an event older than one already handled for the same object (it is
   * marked processed without running the handler). With `false`, the handler
   * runs and reads `context.stale`. `create` events are never skipped.
   * @default true
   */
  skipStale?: boolean;
  /** Called for each event skipped as stale. */
  onStale?: (event: PipedriveWebhookEvent) => void;
  /** Namespace of the guard's versions. @default 'pipedrive' */
  scope?: string;
}

/** Options for {@link pipedriveWebhooks}. */
export interface PipedriveWebhooksOptions extends PipedriveEventHandlersOptions {
  /**
   * The Basic credentials the webhook was registered with, as `user:password`
   * (a vault `Secret` works), or several while rotating them. Deliveries with
   * other or no credentials get 401 and are never stored.
   */
  credentials: SecretInput | readonly SecretInput[];
  /** Where deliveries are stored before the 200: `sqlInbox(db)` or `memoryInbox()`. */
  inbox: Inbox;
  /** Handlers by event type. Leave out for an ingest-only endpoint (a drain or workers elsewhere process the events). */
  on?: PipedriveWebhookHandlers;
  /** How stored events reach workers. @default inProcessQueue() when `on` is given */
  queue?: InboxQueue;
  /** The inbox source name. @default 'pipedrive' */
  source?: string;
  /** Worker settings (concurrency, lease, retry, idempotency); `false` for an ingest-only endpoint with `on` kept for `drainInbox`. */
  worker?: WebhookHandlerOptions['worker'];
  /** The largest body accepted, in bytes. @default 1 MiB */
  maxBodyBytes?: number;
  /** How long the whole body may take to arrive; a stalled sender gets 408 `body_timeout`. @default 10_000 */
  bodyTimeoutMs?: number;
  /** Called with store failures and other unexpected errors. */
  onError?: (error: unknown) => void;
}

const API = 'pipedriveWebhooks';

/** The guard's object id: entity and id, so a person and a deal with the same number never meet. */
const objectKey = (event: PipedriveWebhookEvent) => `${event.entity}:${event.entityId}`;

/**
 * Turns Pipedrive handlers into inbox handlers: each stored payload is parsed
 * (a payload that no longer parses is a permanent failure, dead-lettered at
 * once with its reason), passed through the out-of-order guard on entity + id
 * + timestamp (an older change is skipped, an older `create` still runs with
 * `context.stale`), and handed to its handler: `<entity>.<action>`, then
 * `<entity>.*`, then `'*'`. Give the same handlers to `drainInbox` or a
 * worker that runs apart from the endpoint.
 *
 * @example
 * ```ts
 * await drainInbox({ inbox, source: 'pipedrive', on: pipedriveEventHandlers({ 'person.*': applyPerson }) });
 * ```
 */
export function pipedriveEventHandlers(
  on: PipedriveWebhookHandlers,
  options: PipedriveEventHandlersOptions = {},
): InboxHandlers {
  const api = 'pipedriveEventHandlers';
  if (typeof on !== 'object' || on === null)
    throw new PipedriveWebhookError(api, 'invalid_options', 'on must be an object of handlers');
  for (const [type, handler] of Object.entries(on)) {
    if (handler !== undefined && typeof handler !== 'function')
      throw new PipedriveWebhookError(api, 'invalid_options', `the handler for ${type} is not a function`);
  }
  if (options.skipStale !== undefined && typeof options.skipStale !== 'boolean')
    throw new PipedriveWebhookError(api, 'invalid_options', 'skipStale must be a boolean');
  const handlers: Record<string, PipedriveEventHandler<PipedriveWebhookEvent> | undefined> = { ...on };
  const pick = (type: string) => (Object.hasOwn(handlers, type) ? handlers[type] : undefined);
  const skipStale = options.skipStale ?? true;
  const guard: VersionGuard | undefined =
    options.versions === false
      ? undefined
      : versionGuard({
          store: options.versions ?? memoryVersionStore(),
          scope: options.scope ?? 'pipedrive',
          // two changes in the same millisecond cannot be ordered: the later arrival wins, and a retried
          // attempt of the same event passes again
          applyEqual: true,
        });

  const dispatch = async (stored: { payload: unknown }, context: InboxHandlerContext): Promise<void> => {
    let event: PipedriveWebhookEvent;
    try {
      event = parsePipedriveEvent(stored.payload, api);
    } catch (error) {
      // the same payload fails the same way on every attempt: dead-letter it now, with the reason
      throw permanentFailure(error instanceof Error ? error.message : String(error), { cause: error });
    }
    const handler = pick(pipedriveEventType(event)) ?? pick(`${event.entity}.*`) ?? pick('*');
    if (!handler) return;
    let stale = false;
    if (guard) stale = !(await guard.apply(objectKey(event), event.timestamp, context.tx ? { tx: context.tx } : {}));
    if (stale && skipStale && event.action !== 'create') {
      options.onStale?.(event);
      return;
    }
    await handler(event, { ...context, stale });
  };
  return { '*': dispatch };
}

/**
 * Verifies a Pipedrive delivery: Basic credentials compared in constant time
 * (core's `basic` scheme), then the payload read as a v2 or v1 event; the
 * inbox keys it on the event id and types it `<entity>.<action>`.
 * @internal
 */
export function pipedriveVerifier(
  credentials: SecretInput | readonly SecretInput[],
  options: { maxBodyBytes?: number } = {},
): DeliveryVerifier {
  const basic = createWebhookVerifier({
    scheme: 'basic',
    secret: credentials,
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
  });
  return async (delivery) => {
    const verified = await basic(delivery);
    const event = parsePipedriveEvent(verified.payload, API);
    return { ...verified, id: event.id, type: pipedriveEventType(event) };
  };
}

function checkCredentials(credentials: unknown): void {
  const list = Array.isArray(credentials) ? credentials : [credentials];
  if (list.length === 0) throw new PipedriveWebhookError(API, 'invalid_options', 'credentials must not be empty');
  for (const c of list) {
    const text =
      typeof c === 'string'
        ? c
        : typeof (c as { reveal?: unknown } | null)?.reveal === 'function'
          ? (c as { reveal(): string }).reveal()
          : undefined;
    if (text === undefined || !text.includes(':') || text.startsWith(':') || text.endsWith(':'))
      throw new PipedriveWebhookError(
        API,
        'invalid_options',
        'credentials must be user:password (a string or a Secret), as given to Pipedrive as http_auth_user and http_auth_password',
      );
  }
}

/**
 * A Pipedrive webhook endpoint: checks the HTTP Basic credentials in constant
 * time (wrong or missing: 401, nothing stored), reads the payload as a v2 (or
 * v1) event (not one: 400, nothing stored), stores it once per event id
 * (`meta.id`) in the inbox before answering 200 (503 when the store is down,
 * so Pipedrive retries), and with `on` processes events off the request path
 * through typed handlers behind the out-of-order guard of
 * {@link pipedriveEventHandlers}. The answer never waits for a handler, so it
 * stays well inside Pipedrive's 10-second timeout; with `worker: false` the
 * endpoint only ingests and `drainInbox` processes (serverless hosts).
 *
 * @example
 * ```ts
 * const webhook = pipedriveWebhooks({
 *   credentials: await vault.get('acme', 'pipedrive_webhook'), // user:password
 *   inbox: sqlInbox(db),
 *   on: {
 *     'person.change': async (event) => console.log(event.entityId, event.data.name),
 *     'deal.*': async (event) => console.log(event.action, event.entityId),
 *   },
 * });
 * http.createServer(toNodeHandler(webhook)).listen(3000);
 * ```
 */
export function pipedriveWebhooks(options: PipedriveWebhooksOptions): WebhookHandler {
  if (typeof options !== 'object' || options === null)
    throw new PipedriveWebhookError(API, 'invalid_options', 'options must be an object');
  if (options.credentials === undefined)
    throw new PipedriveWebhookError(API, 'invalid_options', 'credentials are required (user:password)');
  checkCredentials(options.credentials);
  const handlerOptions: WebhookHandlerOptions = {
    source: options.source ?? 'pipedrive',
    inbox: options.inbox,
    verify: pipedriveVerifier(
      options.credentials,
      options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes },
    ),
  };
  if (options.on !== undefined) handlerOptions.on = pipedriveEventHandlers(options.on, options);
  if (options.queue !== undefined) handlerOptions.queue = options.queue;
  if (options.worker !== undefined) handlerOptions.worker = options.worker;
  if (options.maxBodyBytes !== undefined) handlerOptions.maxBodyBytes = options.maxBodyBytes;
  if (options.bodyTimeoutMs !== undefined) handlerOptions.bodyTimeoutMs = options.bodyTimeoutMs;
  if (options.onError !== undefined) handlerOptions.onError = options.onError;
  return createWebhookHandler(handlerOptions);
}
