import type { SqlClient } from '@ballast/core/stores/sql';
import type { PageSource, SyncCounts, SyncRunResult, SyncTable } from '@ballast/core/sync';
import { syncTable } from '@ballast/core/sync';
import type { PipedriveWebhookEvent } from './events';
import type { PipedriveQuery } from './pagination';
import { PipedriveWebhookError } from './webhook-errors';

/** The Pipedrive entities the sync preset mirrors (v2 list endpoints). */
export type PipedriveSyncEntity = 'persons' | 'organizations' | 'deals';

/** Every {@link PipedriveSyncEntity}, in the order `run` syncs them (organizations before the persons and deals that name them). */
export const PIPEDRIVE_SYNC_ENTITIES: readonly PipedriveSyncEntity[] = ['organizations', 'persons', 'deals'];

/** The webhook entity (`meta.entity`) of each synced entity. */
const WEBHOOK_ENTITY: Readonly<Record<PipedriveSyncEntity, string>> = {
  persons: 'person',
  organizations: 'organization',
  deals: 'deal',
};

/** A Pipedrive record as stored in a sync table: v2's JSON, every field kept. */
export interface PipedriveSyncRecord {
  id: number;
  update_time?: string | null;
  [field: string]: unknown;
}

/** Parameters the sync passes to a v2 list (a type, not an interface, so it fits the client's query record). */
export type PipedriveSyncListParams = PipedriveQuery & {
  limit: number;
  cursor?: string;
  updated_since?: string;
  sort_by?: 'update_time';
  sort_direction?: 'asc';
};

/** One page of a v2 list, as `pipedriveClient`'s `pages()` yields it. */
export interface PipedriveSyncPage {
  items: readonly unknown[];
  nextCursor?: string | null;
}

/** What the sync needs of a client: the v2 `pages()` of each entity (`pipedriveClient(...)` fits). */
export type PipedriveSyncClient = {
  readonly [E in PipedriveSyncEntity]: {
    pages(params: PipedriveSyncListParams, options?: { signal?: AbortSignal }): AsyncIterable<PipedriveSyncPage>;
  };
};

/** Options for {@link pipedriveSync}. */
export interface PipedriveSyncOptions {
  /** The API client the lists are read through: `pipedriveClient(...)`. */
  client: PipedriveSyncClient;
  /** The database holding the sync tables (created by `migrate(db)`). */
  db: SqlClient;
  /** The entities to mirror. @default every {@link PipedriveSyncEntity} */
  entities?: readonly PipedriveSyncEntity[];
  /** The tenant (e.g. the Pipedrive company) the rows belong to. @default 'default' */
  tenant?: string;
  /** The schema of Ballast's tables. @default 'ballast' */
  schema?: string;
  /** The sync tables' source name. @default 'pipedrive' */
  source?: string;
  /**
   * How far an incremental run reads back before the newest `update_time`
   * already stored, in milliseconds: records Pipedrive indexed late, or
   * stamped by a clock behind ours, are read again (unchanged ones are not
   * rewritten).
   * @default 300_000 (5 minutes)
   */
  lookbackMs?: number;
  /** Records per page asked of Pipedrive (at most 500). @default 500 */
  pageSize?: number;
}

/** Stored Pipedrive records mirrored into sync tables, kept current by runs and by webhooks. */
export interface PipedriveSync {
  /** The raw sync table of each entity (`update_time` is both the cursor and the version). */
  readonly tables: Readonly<Partial<Record<PipedriveSyncEntity, SyncTable<PipedriveSyncRecord>>>>;
  /**
   * Syncs entities. `full` lists everything over the v2 cursor and
   * soft-deletes the rows Pipedrive no longer lists; `incremental` lists
   * what changed since the newest `update_time` stored minus `lookbackMs`
   * (`updated_since`, `sort_by=update_time` ascending) and never deletes.
   * Either way a record older than its stored row (a webhook applied a newer
   * state meanwhile) is not written. An interrupted run resumes from its
   * checkpoint.
   */
  run(options: {
    mode: 'full' | 'incremental';
    entities?: readonly PipedriveSyncEntity[];
    /** Full runs: soft-delete unseen rows even beyond the table's `maxDeleteRatio` (20%). @default false */
    force?: boolean;
    /** Stops the run between pages; it stays resumable from its checkpoint. */
    signal?: AbortSignal;
  }): Promise<Partial<Record<PipedriveSyncEntity, SyncRunResult>>>;
  /**
   * Applies one webhook event to its raw row: `data` upserted on create and
   * change, the row soft-deleted on delete. Wire it behind the out-of-order
   * guard (`pipedriveWebhooks`' handlers) and pass the handler's context, so
   * a stale event is not applied; the table also refuses a `data` older than
   * the stored row. Resolves false when nothing was applied: an entity this
   * sync does not mirror, a stale event, or a v1 event (v1 renders objects
   * differently from the v2 rows: register v2 webhooks, the default).
   *
   * @example
   * ```ts
   * pipedriveWebhooks({ credentials, inbox, on: { '*': (event, context) => sync.applyEvent(event, context) } });
   * ```
   */
  applyEvent(event: PipedriveWebhookEvent, context?: { stale?: boolean }): Promise<boolean>;
}

const API = 'pipedriveSync';
const DEFAULT_LOOKBACK_MS = 300_000;

/** RFC 3339 in whole seconds: whether Pipedrive accepts milliseconds in `updated_since` is unverified. */
export function pipedriveTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function entityOf(event: PipedriveWebhookEvent, entities: ReadonlySet<PipedriveSyncEntity>) {
  for (const entity of entities) if (WEBHOOK_ENTITY[entity] === event.entity) return entity;
  return undefined;
}

/**
 * Mirrors Pipedrive persons, organizations and deals into core's sync tables
 * (raw v2 JSON per record, change detection by hash, resumable runs with
 * checkpoints), read over the v2 cursor, and applies webhook events to the
 * same rows. Webhooks bring changes within seconds; the incremental run
 * brings what webhooks missed (events during a 30-minute endpoint ban are
 * lost); a nightly full run brings deletes a missed webhook would have told.
 *
 * @example
 * ```ts
 * const sync = pipedriveSync({ client, db });
 * await sync.run({ mode: 'full' });          // nightly
 * await sync.run({ mode: 'incremental' });   // every few minutes
 * ```
 */
export function pipedriveSync(options: PipedriveSyncOptions): PipedriveSync {
  if (typeof options !== 'object' || options === null)
    throw new PipedriveWebhookError(API, 'invalid_options', 'options must be an object');
  const { client, db } = options;
  if (typeof db?.query !== 'function')
    throw new PipedriveWebhookError(API, 'invalid_options', 'db must be a SqlClient');
  const chosen = options.entities ?? PIPEDRIVE_SYNC_ENTITIES;
  if (!Array.isArray(chosen) || chosen.length === 0 || !chosen.every((e) => Object.hasOwn(WEBHOOK_ENTITY, e)))
    throw new PipedriveWebhookError(
      API,
      'invalid_options',
      `entities must be some of ${PIPEDRIVE_SYNC_ENTITIES.join(', ')}`,
    );
  const entities = new Set<PipedriveSyncEntity>(chosen);
  for (const entity of entities) {
    if (typeof (client as Partial<PipedriveSyncClient> | undefined)?.[entity]?.pages !== 'function')
      throw new PipedriveWebhookError(API, 'invalid_options', `client must be a pipedriveClient (no ${entity}.pages)`);
  }
  const lookbackMs = options.lookbackMs ?? DEFAULT_LOOKBACK_MS;
  if (!Number.isInteger(lookbackMs) || lookbackMs < 0 || lookbackMs > 7 * 86_400_000)
    throw new PipedriveWebhookError(
      API,
      'invalid_options',
      'lookbackMs must be an integer from 0 to 604,800,000 (a week)',
    );
  const pageSize = options.pageSize ?? 500;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 500)
    throw new PipedriveWebhookError(API, 'invalid_options', 'pageSize must be an integer from 1 to 500');
  const where = {
    source: options.source ?? 'pipedrive',
    ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
    ...(options.schema === undefined ? {} : { schema: options.schema }),
  };
  const tables: Partial<Record<PipedriveSyncEntity, SyncTable<PipedriveSyncRecord>>> = {};
  for (const entity of entities) {
    tables[entity] = syncTable<PipedriveSyncRecord>(db, {
      ...where,
      entity,
      // the provider's clock for `since`, and the version a webhook and a run compare on
      cursorField: 'update_time',
      versionField: 'update_time',
      lookbackMs,
    });
  }

  /** A resumable source over one v2 list: a resumed run continues from its checkpoint cursor with the same `since`. */
  const listSource = (entity: PipedriveSyncEntity): PageSource<PipedriveSyncRecord> =>
    async function* (start) {
      const params: PipedriveSyncListParams = { limit: pageSize };
      if (start.cursor !== null) params.cursor = start.cursor;
      if (start.since !== null) {
        params.updated_since = pipedriveTime(start.since);
        params.sort_by = 'update_time';
        params.sort_direction = 'asc';
      }
      const pages = client[entity].pages(params, start.signal ? { signal: start.signal } : {});
      for await (const page of pages) {
        yield { records: page.items as PipedriveSyncRecord[], next: page.nextCursor ?? null };
      }
    };

  return {
    tables,
    async run(runOptions) {
      const mode = runOptions?.mode;
      if (mode !== 'full' && mode !== 'incremental')
        throw new PipedriveWebhookError(API, 'invalid_options', "mode must be 'full' or 'incremental'");
      const wanted = runOptions.entities ?? PIPEDRIVE_SYNC_ENTITIES.filter((e) => entities.has(e));
      for (const entity of wanted)
        if (!entities.has(entity))
          throw new PipedriveWebhookError(API, 'invalid_options', `${entity} is not synced by this pipedriveSync`);
      const results: Partial<Record<PipedriveSyncEntity, SyncRunResult>> = {};
      for (const entity of wanted) {
        const table = tables[entity] as SyncTable<PipedriveSyncRecord>;
        results[entity] = await table.run(listSource(entity), {
          mode,
          ...(runOptions.force === undefined ? {} : { force: runOptions.force }),
          ...(runOptions.signal ? { signal: runOptions.signal } : {}),
        });
      }
      return results;
    },
    async applyEvent(event, context) {
      const entity = entityOf(event, entities);
      if (!entity || context?.stale === true || event.version !== 2) return false;
      const table = tables[entity] as SyncTable<PipedriveSyncRecord>;
      if (event.action === 'delete') {
        await table.markDeleted([event.entityId]);
        return true;
      }
      const counts: SyncCounts = await table.upsert([event.data as PipedriveSyncRecord]);
      return counts.failed === 0;
    },
  };
}
