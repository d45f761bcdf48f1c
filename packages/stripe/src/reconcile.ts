import type { Inbox } from '@ballast/core/inbox';
import type { StripeClient } from './client';
import { StripeUsageError } from './errors';
import { checkStripeEnvelope } from './events';

/** Options for {@link reconcileStripeEvents}. */
export interface ReconcileStripeEventsOptions {
  /** The API client that lists `/v1/events`. */
  client: StripeClient;
  /** The inbox the webhook endpoint stores into: events already there are duplicates. */
  inbox: Inbox;
  /**
   * Events created at or after this moment (a `Date`, or unix seconds). Stripe
   * keeps events for 30 days: an older `since` is moved up to the window's start.
   */
  since: Date | number;
  /**
   * Only events created before this moment (`Date` or unix seconds).
   * @default now
   */
  until?: Date | number;
  /**
   * `false` lists only events whose delivery to some endpoint is still
   * pending or failed (`delivery_success=false`); `true` only delivered ones.
   * @default undefined (every event)
   */
  deliverySuccess?: boolean;
  /**
   * Only these event types (at most 20; `*` wildcards as Stripe allows).
   * @default every type
   */
  types?: readonly string[];
  /** The inbox source, as the endpoint's. @default 'stripe' */
  source?: string;
  /** The clock, in milliseconds (for the 30-day window). @default Date.now */
  now?: () => number;
}

/** What a reconcile did. */
export interface ReconcileResult {
  /** Events Stripe listed. */
  listed: number;
  /** Events stored now: they had not arrived by webhook. */
  stored: number;
  /** Events that were already in the inbox. */
  duplicates: number;
  /** Ids of listed events that are not valid snapshot events (not stored). */
  invalid: string[];
  /** The `created[gte]` actually asked for, in unix seconds (after clamping to the window). */
  since: number;
  /** True when `since` was older than Stripe's 30-day window and was moved up. */
  clamped: boolean;
}

const API = 'reconcileStripeEvents';
const WINDOW_SECONDS = 30 * 86_400;

function toSeconds(value: Date | number, field: string): number {
  const seconds = value instanceof Date ? Math.floor(value.getTime() / 1000) : value;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0)
    throw new StripeUsageError(API, 'invalid_options', `${field} must be a valid Date or unix seconds`);
  return Math.floor(seconds);
}

/**
 * Catch-up after missed webhooks: lists `/v1/events` since a moment (within
 * Stripe's 30-day window, optionally only undelivered ones) and ingests each
 * into the same inbox as the webhook endpoint, so events that never arrived
 * are processed once and events that did arrive are recognized as duplicates
 * by their event id. Run it on a schedule, and after an outage.
 *
 * @throws StripeUsageError `invalid_options` for bad options; a `StripeError`
 *   when listing fails; the inbox's `InboxError` when the store is down (run
 *   it again later: what was stored stays stored).
 * @example
 * ```ts
 * const result = await reconcileStripeEvents({ client, inbox, since: Date.now() / 1000 - 3 * 86_400, deliverySuccess: false });
 * console.log(`${result.stored} missed events recovered`);
 * ```
 */
export async function reconcileStripeEvents(options: ReconcileStripeEventsOptions): Promise<ReconcileResult> {
  if (typeof options !== 'object' || options === null)
    throw new StripeUsageError(API, 'invalid_options', 'options must be an object');
  const { client, inbox } = options;
  if (typeof client?.list !== 'function')
    throw new StripeUsageError(API, 'invalid_options', 'client must be a stripeClient');
  if (typeof inbox?.ingest !== 'function') throw new StripeUsageError(API, 'invalid_options', 'inbox must be an Inbox');
  const now = Math.floor((options.now ?? Date.now)() / 1000);
  const requested = toSeconds(options.since, 'since');
  const oldest = now - WINDOW_SECONDS;
  const since = Math.max(requested, oldest);
  const until = options.until === undefined ? undefined : toSeconds(options.until, 'until');
  if (requested > now) throw new StripeUsageError(API, 'invalid_options', 'since is in the future');
  if (until !== undefined && until <= since)
    throw new StripeUsageError(API, 'invalid_options', 'until must be after since');
  const types = options.types ?? [];
  if (!Array.isArray(types) || types.length > 20 || !types.every((t) => typeof t === 'string' && t.length > 0))
    throw new StripeUsageError(API, 'invalid_options', 'types must be at most 20 event type names');
  if (options.deliverySuccess !== undefined && typeof options.deliverySuccess !== 'boolean')
    throw new StripeUsageError(API, 'invalid_options', 'deliverySuccess must be a boolean');
  const source = options.source ?? 'stripe';

  const result: ReconcileResult = {
    listed: 0,
    stored: 0,
    duplicates: 0,
    invalid: [],
    since,
    clamped: since !== requested,
  };
  const params = {
    created: until === undefined ? { gte: since } : { gte: since, lt: until },
    ...(options.deliverySuccess === undefined ? {} : { delivery_success: options.deliverySuccess }),
    ...(types.length === 1 ? { type: types[0] } : types.length > 1 ? { types: [...types] } : {}),
  };
  for await (const page of client.pages<{ id: string; type?: string }>('/v1/events', params)) {
    result.listed += page.data.length;
    // Oldest first within a page, and all of a page at once so the inbox group-commits it.
    const outcomes = await Promise.all(
      [...page.data].reverse().map(async (event) => {
        try {
          checkStripeEnvelope(event, API);
        } catch {
          result.invalid.push(String(event.id));
          return undefined;
        }
        return inbox.ingest(source, { id: event.id, payload: event, type: event.type as string });
      }),
    );
    for (const outcome of outcomes) {
      if (outcome?.outcome === 'stored') result.stored++;
      else if (outcome?.outcome === 'duplicate') result.duplicates++;
    }
  }
  return result;
}
