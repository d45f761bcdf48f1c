import type { SqlClient } from '@ballast/core/stores/sql';
import {
  type PageSource,
  type SyncCounts,
  type SyncRunResult,
  type SyncTable,
  startingAfterPages,
  syncTable,
} from '@ballast/core/sync';
import type { StripeClient, StripeList } from './client';
import { StripeUsageError } from './errors';
import type { StripeAnyEvent } from './events';
import type { StripeParams } from './form';

/** The Stripe objects the sync preset mirrors. */
export type StripeSyncEntity = 'customers' | 'subscriptions' | 'invoices' | 'products' | 'prices';

/** Every {@link StripeSyncEntity}, in the order `run` syncs them. */
export const STRIPE_SYNC_ENTITIES: readonly StripeSyncEntity[] = [
  'products',
  'prices',
  'customers',
  'subscriptions',
  'invoices',
];

interface EntitySpec {
  path: string;
  /** The `object` value of its records. */
  object: string;
  /** Extra list params (subscriptions: include canceled ones). */
  params: StripeParams;
  /** Event types that carry this object; `deleted` ones soft-delete the row. */
  events: string[];
  deleted: string | undefined;
}

const SPECS: Readonly<Record<StripeSyncEntity, EntitySpec>> = {
  customers: {
    path: '/v1/customers',
    object: 'customer',
    params: {},
    events: ['customer.created', 'customer.updated', 'customer.deleted'],
    deleted: 'customer.deleted',
  },
  subscriptions: {
    path: '/v1/subscriptions',
    object: 'subscription',
    params: { status: 'all' },
    events: ['customer.subscription.*'],
    deleted: undefined, // a deleted subscription is canceled, and still listed
  },
  invoices: { path: '/v1/invoices', object: 'invoice', params: {}, events: ['invoice.*'], deleted: 'invoice.deleted' },
  products: {
    path: '/v1/products',
    object: 'product',
    params: {},
    events: ['product.created', 'product.updated', 'product.deleted'],
    deleted: 'product.deleted',
  },
  prices: {
    path: '/v1/prices',
    object: 'price',
    params: {},
    events: ['price.created', 'price.updated', 'price.deleted'],
    deleted: 'price.deleted',
  },
};

/** A Stripe object as stored in a sync table. */
export interface StripeSyncRecord {
  id: string;
  object: string;
  created: number;
  [field: string]: unknown;
}

/** Options for {@link stripeSync}. */
export interface StripeSyncOptions {
  /** The API client the lists are read through. */
  client: StripeClient;
  /** The database holding the sync tables (created by `migrate(db)`). */
  db: SqlClient;
  /** The entities to mirror. @default every {@link StripeSyncEntity} */
  entities?: readonly StripeSyncEntity[];
  /** The tenant (e.g. a connected account) the rows belong to. @default 'default' */
  tenant?: string;
  /** The schema of Ballast's tables. @default 'ballast' */
  schema?: string;
  /** The sync tables' source name. @default 'stripe' */
  source?: string;
  /**
   * How far an incremental run reads back, in milliseconds, before the
   * newest `created` already stored (lists) and before the newest event
   * already applied (`/v1/events`): objects and events Stripe lists late, or
   * stamped by its clock while ours runs ahead, are read again. Objects read
   * again unchanged are not rewritten.
   * @default 300_000 (5 minutes)
   */
  lookbackMs?: number;
}

/** What one {@link StripeSync.run} did per entity. */
export interface StripeSyncResult {
  /** The sync run of the list endpoint. */
  run: SyncRunResult;
  /**
   * Incremental runs: what `/v1/events` changed since the newest event the
   * previous runs applied (minus the lookback): objects the list does not
   * cover (created before the list's `since`) that changed (`applied`, those
   * whose stored content changed), and objects deleted (`deleted`).
   */
  fromEvents: { applied: number; deleted: number };
}

/** Stripe objects mirrored into sync tables. */
export interface StripeSync {
  /** The raw sync table of each entity. */
  readonly tables: Readonly<Partial<Record<StripeSyncEntity, SyncTable<StripeSyncRecord>>>>;
  /**
   * Syncs entities. `full` lists everything and soft-deletes what is gone;
   * `incremental` applies the updates and deletions of `/v1/events` since
   * the newest event already applied (newest snapshot per object), then
   * lists objects created since the newest `created` already stored
   * (`created[gte]`), both minus `lookbackMs` and both on Stripe's clock. An
   * incremental run that fails does not complete, so the next one covers the
   * same window.
   */
  run(options: {
    mode: 'full' | 'incremental';
    entities?: readonly StripeSyncEntity[];
  }): Promise<Partial<Record<StripeSyncEntity, StripeSyncResult>>>;
  /**
   * Applies one event's object to its table (upsert, or soft delete for
   * `*.deleted`): wire it into a webhook handler behind the out-of-order
   * guard and pass the handler's context, so a snapshot older than one
   * already handled (`context.stale`, as a late `*.created` is) is not
   * written over newer state. Resolves false when nothing was applied: an
   * entity this sync does not mirror, or a stale event.
   *
   * @example
   * ```ts
   * stripeWebhooks({ secret, inbox, on: { '*': (event, context) => sync.applyEvent(event, context) } });
   * ```
   */
  applyEvent(event: StripeAnyEvent, context?: { stale?: boolean }): Promise<boolean>;
}

const API = 'stripeSync';
const DEFAULT_LOOKBACK_MS = 300_000;
/** The companion table holding, per entity, the `created` of the newest event applied. */
const EVENT_MARKS = 'event-marks';

/** The newest event `created` (Unix seconds) an incremental run applied for an entity. */
interface EventMark {
  id: StripeSyncEntity;
  created: number;
}

function entityOfEvent(event: StripeAnyEvent, entities: ReadonlySet<StripeSyncEntity>): StripeSyncEntity | undefined {
  const object = (event.data.object as { object?: unknown }).object;
  for (const entity of entities) if (SPECS[entity].object === object) return entity;
  return undefined;
}

/**
 * Mirrors Stripe customers, subscriptions, invoices, products and prices
 * into core's sync tables (raw JSON per object, change detection by hash,
 * resumable runs with checkpoints), read through the client's pagination.
 *
 * @example
 * ```ts
 * const sync = stripeSync({ client, db });
 * await sync.run({ mode: 'full' });           // nightly
 * await sync.run({ mode: 'incremental' });    // every few minutes
 * ```
 */
export function stripeSync(options: StripeSyncOptions): StripeSync {
  if (typeof options !== 'object' || options === null)
    throw new StripeUsageError(API, 'invalid_options', 'options must be an object');
  const { client, db } = options;
  if (typeof client?.get !== 'function')
    throw new StripeUsageError(API, 'invalid_options', 'client must be a stripeClient');
  if (typeof db?.query !== 'function') throw new StripeUsageError(API, 'invalid_options', 'db must be a SqlClient');
  const chosen = options.entities ?? STRIPE_SYNC_ENTITIES;
  if (!Array.isArray(chosen) || chosen.length === 0 || !chosen.every((e) => Object.hasOwn(SPECS, e)))
    throw new StripeUsageError(API, 'invalid_options', `entities must be some of ${STRIPE_SYNC_ENTITIES.join(', ')}`);
  const entities = new Set<StripeSyncEntity>(chosen);
  const lookbackMs = options.lookbackMs ?? DEFAULT_LOOKBACK_MS;
  if (!Number.isInteger(lookbackMs) || lookbackMs < 0 || lookbackMs > 86_400_000)
    throw new StripeUsageError(API, 'invalid_options', 'lookbackMs must be an integer from 0 to 86,400,000 (a day)');
  const where = {
    source: options.source ?? 'stripe',
    ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
    ...(options.schema === undefined ? {} : { schema: options.schema }),
  };
  const tables: Partial<Record<StripeSyncEntity, SyncTable<StripeSyncRecord>>> = {};
  for (const entity of entities) {
    // Core's `since` is the largest `created` stored minus the lookback: Stripe's clock, not the database's.
    tables[entity] = syncTable<StripeSyncRecord>(db, { ...where, entity, cursorField: 'created', lookbackMs });
  }
  const marks = syncTable<EventMark>(db, { ...where, entity: EVENT_MARKS });

  /**
   * A resumable source over one list endpoint: core hands a resumed run its
   * checkpoint (the last id stored) and a new run no cursor, so pages
   * continue after the checkpoint or start from the newest object.
   */
  const listSource = (entity: StripeSyncEntity): PageSource<StripeSyncRecord> => {
    const spec = SPECS[entity];
    return startingAfterPages<StripeSyncRecord>({
      fetch: ({ startingAfter, since, signal }) =>
        client.get<StripeList<StripeSyncRecord>>(
          spec.path,
          {
            ...spec.params,
            limit: 100,
            ...(since ? { created: { gte: Math.floor(since.getTime() / 1000) } } : {}),
            ...(startingAfter ? { starting_after: startingAfter } : {}),
          },
          signal ? { signal } : {},
        ),
    });
  };

  /**
   * Applies what `/v1/events` says changed to objects the incremental list
   * does not cover (those created before the list's `since`), newest
   * snapshot per object. Events are read from the newest one a previous run
   * applied minus the lookback (the first time: from the list's `since`), and
   * the newest one seen becomes the next run's mark.
   */
  const applyEvents = async (entity: StripeSyncEntity, listSince: Date) => {
    const spec = SPECS[entity];
    const table = tables[entity] as SyncTable<StripeSyncRecord>;
    const latest = new Map<string, { event: StripeAnyEvent; deleted: boolean }>();
    const listSinceSeconds = Math.floor(listSince.getTime() / 1000);
    const mark = (await marks.get(entity))?.data.created;
    const eventsSince = mark === undefined ? listSinceSeconds : mark - Math.ceil(lookbackMs / 1000);
    const params: StripeParams = {
      created: { gte: eventsSince },
      ...(spec.events.length === 1 ? { type: spec.events[0] } : { types: spec.events }),
    };
    let newest = mark;
    // Newest first: the first event seen for an object carries its latest state.
    for await (const event of client.list<StripeAnyEvent>('/v1/events', params)) {
      if (newest === undefined || event.created > newest) newest = event.created;
      const object = event.data.object as Partial<StripeSyncRecord>;
      if (object.object !== spec.object || typeof object.id !== 'string' || latest.has(object.id)) continue;
      latest.set(object.id, { event, deleted: event.type === spec.deleted });
    }
    // Objects created since the list's `since` are listed by the run itself, in their current state.
    const upserts = [...latest.values()]
      .filter((e) => !e.deleted)
      .map((e) => e.event.data.object as StripeSyncRecord)
      .filter((object) => typeof object.created !== 'number' || object.created < listSinceSeconds);
    const deletions = [...latest.entries()].filter(([, e]) => e.deleted).map(([id]) => id);
    const counts: SyncCounts | undefined = upserts.length > 0 ? await table.upsert(upserts) : undefined;
    const deleted = deletions.length > 0 ? await table.markDeleted(deletions) : 0;
    // Recorded once the events are applied: a run that fails later re-reads nothing it needs.
    if (newest !== undefined && newest !== mark) await marks.upsert([{ id: entity, created: newest }]);
    return { applied: (counts?.inserted ?? 0) + (counts?.changed ?? 0), deleted };
  };

  return {
    tables,
    async run(runOptions) {
      const mode = runOptions?.mode;
      if (mode !== 'full' && mode !== 'incremental')
        throw new StripeUsageError(API, 'invalid_options', "mode must be 'full' or 'incremental'");
      const wanted = runOptions.entities ?? STRIPE_SYNC_ENTITIES.filter((e) => entities.has(e));
      for (const entity of wanted)
        if (!entities.has(entity))
          throw new StripeUsageError(API, 'invalid_options', `${entity} is not synced by this stripeSync`);
      const results: Partial<Record<StripeSyncEntity, StripeSyncResult>> = {};
      for (const entity of wanted) {
        const table = tables[entity] as SyncTable<StripeSyncRecord>;
        const fromEvents = { applied: 0, deleted: 0 };
        const list = listSource(entity);
        // Events are applied inside the run, before its pages: if they fail, the run does not
        // complete, so the next run still starts from the same `since` and nothing is skipped.
        const source: PageSource<StripeSyncRecord> = async function* (start) {
          if (start.since) Object.assign(fromEvents, await applyEvents(entity, start.since));
          yield* list(start);
        };
        const run = await table.run(source, { mode });
        results[entity] = { run, fromEvents };
      }
      return results;
    },
    async applyEvent(event, context) {
      const entity = entityOfEvent(event, entities);
      if (!entity || context?.stale === true) return false;
      const table = tables[entity] as SyncTable<StripeSyncRecord>;
      const object = event.data.object as StripeSyncRecord;
      if (event.type === SPECS[entity].deleted) await table.markDeleted([object.id]);
      else await table.upsert([object]);
      return true;
    },
  };
}
