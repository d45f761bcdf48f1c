import { type VersionGuard, type VersionStore, versionGuard } from '@ballast/core/idempotency';
import {
  createWebhookHandler,
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
import { StripeUsageError } from './errors';
import {
  checkStripeEnvelope,
  parseStripeEvent,
  type StripeAnyEvent,
  type StripeEvent,
  type StripeTypedEventType,
  type StripeUntypedEvent,
} from './events';

/** What a Stripe event handler receives besides the event. */
export interface StripeHandlerContext extends InboxHandlerContext {
  /**
   * True when an event about the same object with a later `created` was
   * already handled, so `data.object` is an older snapshot than one already
   * seen: a handler that mirrors state must not write it. Handlers see stale
   * events with `skipStale: false`, and always for creation events
   * (`*.created`), which are never skipped.
   */
  stale: boolean;
}

/** Handles one event; throwing fails the attempt, which the inbox retries with backoff. */
export type StripeEventHandler<E> = {
  // A method signature keeps the parameter bivariant, so typed handlers fit the untyped index below.
  handle(event: E, context: StripeHandlerContext): unknown;
}['handle'];

/**
 * Handlers by event type: the common types get their typed event, any other
 * type the untyped envelope, and `'*'` catches every type without a handler.
 */
export type StripeEventHandlers = {
  [T in StripeTypedEventType]?: StripeEventHandler<StripeEvent<T>>;
} & {
  [type: string]: StripeEventHandler<StripeUntypedEvent> | undefined;
};

/** Options for {@link stripeEventHandlers}. */
export interface StripeEventHandlersOptions {
  /**
   * Where the last handled `created` of each object lives, for the
   * out-of-order guard; `false` turns the guard off. Use `sqlVersionStore(db)`
   * when several processes handle events.
   * @default memoryVersionStore()
   */
  versions?: VersionStore | false;
  /**
   * Skip an event older than one already handled for the same `data.object.id`
   * (it is marked processed without running the handler). With `false`, the
   * handler runs and reads `context.stale`. Creation events (`*.created`) are
   * never skipped: a late one still runs, with `context.stale` set.
   * @default true
   */
  skipStale?: boolean;
  /** Called for each event skipped as stale. */
  onStale?: (event: StripeAnyEvent) => void;
  /** Namespace of the guard's versions. @default 'stripe' */
  scope?: string;
}

/** Options for {@link stripeWebhooks}. */
export interface StripeWebhooksOptions extends StripeEventHandlersOptions {
  /** The endpoint's signing secret (`whsec_…`), or several while rolling it. A vault `Secret` works. */
  secret: SecretInput | readonly SecretInput[];
  /** Where verified events are stored before the 200: `sqlInbox(db)` or `memoryInbox()`. */
  inbox: Inbox;
  /** Handlers by event type. Leave out for an ingest-only endpoint (workers elsewhere process the events). */
  on?: StripeEventHandlers;
  /** How stored events reach workers. @default inProcessQueue() when `on` is given */
  queue?: InboxQueue;
  /** The inbox source name. @default 'stripe' */
  source?: string;
  /**
   * How old a signature's `t` may be, in seconds (Stripe's libraries use 300).
   * @default 300
   */
  tolerance?: number;
  /** The clock for the signature's timestamp check, in milliseconds. @default Date.now */
  now?: () => number;
  /** Worker settings (concurrency, lease, retry, idempotency). */
  worker?: WebhookHandlerOptions['worker'];
  /** The largest body accepted, in bytes. @default 1 MiB */
  maxBodyBytes?: number;
  /** How long the whole body may take to arrive; a stalled sender gets 408 `body_timeout`. @default 10_000 */
  bodyTimeoutMs?: number;
  /** Called with store failures and other unexpected errors. */
  onError?: (error: unknown) => void;
}

const API = 'stripeWebhooks';

/**
 * A creation event announces that its object exists; it happens once, so no
 * later update makes it redundant, and work keyed on it (provisioning, a
 * welcome email) must not be lost to the out-of-order guard.
 */
function isCreation(event: StripeAnyEvent): boolean {
  return event.type.endsWith('.created');
}

function objectIdOf(event: StripeAnyEvent): string | undefined {
  const id = (event.data.object as { id?: unknown }).id;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

/**
 * Turns Stripe handlers into inbox handlers: each stored event is parsed
 * (typed for the common types; a payload that does not match is a
 * permanent failure carrying the `invalid_event` message, so it is
 * dead-lettered at once, visibly, instead of being retried or lost), passed
 * through the out-of-order guard on `data.object.id` + `created` (a stale
 * update is skipped; a stale creation event still runs, with
 * `context.stale`), and handed to its handler or to `'*'`. Use it for
 * workers that run apart from the endpoint.
 *
 * @example
 * ```ts
 * createInboxWorker({ inbox, source: 'stripe', on: stripeEventHandlers({ 'invoice.paid': markPaid }) });
 * ```
 */
export function stripeEventHandlers(on: StripeEventHandlers, options: StripeEventHandlersOptions = {}): InboxHandlers {
  if (typeof on !== 'object' || on === null)
    throw new StripeUsageError(API, 'invalid_options', 'on must be an object of handlers');
  for (const [type, handler] of Object.entries(on)) {
    if (handler !== undefined && typeof handler !== 'function')
      throw new StripeUsageError(API, 'invalid_options', `the handler for ${type} is not a function`);
  }
  const handlers: Record<string, StripeEventHandler<StripeAnyEvent> | undefined> = { ...on };
  const skipStale = options.skipStale ?? true;
  const guard: VersionGuard | undefined =
    options.versions === false
      ? undefined
      : versionGuard({
          store: options.versions ?? memoryVersionStore(),
          scope: options.scope ?? 'stripe',
          applyEqual: true,
        });

  const dispatch = async (stored: { payload: unknown }, context: InboxHandlerContext): Promise<void> => {
    let event: StripeAnyEvent;
    try {
      event = parseStripeEvent(stored.payload);
    } catch (error) {
      // the same payload fails the same way on every attempt: dead-letter it now, with the reason
      throw permanentFailure(error instanceof Error ? error.message : String(error), { cause: error });
    }
    const handler = (Object.hasOwn(handlers, event.type) ? handlers[event.type] : undefined) ?? handlers['*'];
    if (!handler) return;
    const objectId = objectIdOf(event);
    let stale = false;
    if (guard && objectId) {
      stale = !(await guard.apply(objectId, event.created, context.tx ? { tx: context.tx } : {}));
    }
    if (stale && skipStale && !isCreation(event)) {
      options.onStale?.(event);
      return;
    }
    await handler(event, { ...context, stale });
  };
  return { '*': dispatch };
}

/**
 * A Stripe webhook endpoint: verifies `Stripe-Signature` (every `v1`, any of
 * the secrets, within the tolerance), rejects thin `v2.core.event` payloads
 * and non-events with 400, stores each event once per event id in the inbox
 * before answering 200 (503 when the store is down, so Stripe retries), and
 * with `on` processes them off the request path through typed handlers with
 * the out-of-order guard of {@link stripeEventHandlers}.
 *
 * @example
 * ```ts
 * const webhook = stripeWebhooks({
 *   secret: 'whsec_…',
 *   inbox: sqlInbox(db),
 *   on: {
 *     'checkout.session.completed': async (event) => fulfil(event.data.object.id),
 *     'invoice.paid': async (event) => markPaid(event.data.object.id, event.data.object.amount_paid),
 *   },
 * });
 * http.createServer(toNodeHandler(webhook)).listen(3000);
 * ```
 */
export function stripeWebhooks(options: StripeWebhooksOptions): WebhookHandler {
  if (typeof options !== 'object' || options === null)
    throw new StripeUsageError(API, 'invalid_options', 'options must be an object');
  if (options.secret === undefined) throw new StripeUsageError(API, 'invalid_options', 'secret is required (whsec_…)');
  const verifier = createWebhookVerifier({
    scheme: 'stripe',
    secret: options.secret,
    ...(options.tolerance === undefined ? {} : { tolerance: options.tolerance }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
  });
  const handlerOptions: WebhookHandlerOptions = {
    source: options.source ?? 'stripe',
    inbox: options.inbox,
    verify: async (delivery) => {
      const verified = await verifier(delivery);
      checkStripeEnvelope(verified.payload, API);
      return verified;
    },
  };
  if (options.on !== undefined) handlerOptions.on = stripeEventHandlers(options.on, options);
  if (options.queue !== undefined) handlerOptions.queue = options.queue;
  if (options.worker !== undefined) handlerOptions.worker = options.worker;
  if (options.maxBodyBytes !== undefined) handlerOptions.maxBodyBytes = options.maxBodyBytes;
  if (options.bodyTimeoutMs !== undefined) handlerOptions.bodyTimeoutMs = options.bodyTimeoutMs;
  if (options.onError !== undefined) handlerOptions.onError = options.onError;
  return createWebhookHandler(handlerOptions);
}
