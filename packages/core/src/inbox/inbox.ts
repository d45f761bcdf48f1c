import type { IdempotencyStore } from '../idempotency/store';
import type { SqlExecutor } from '../stores/sql';
import { type BatchResult, batchWriter } from './batch-write';
import { InboxError, isInboxError } from './errors';
import { type GroupCommitOptions, groupCommitter, normalizeGroupCommit } from './group-commit';
import { eventBytes, storeError, toNewEvent } from './prepare';

/** Re-exported for the modules that import it from here. @internal */
export { assertSource } from './prepare';

import {
  INBOX_STATUSES,
  type InboxCounts,
  type InboxDriver,
  type InboxEvent,
  type InboxEventKey,
  type InboxFilter,
  type InboxListOptions,
  type InboxMetricListener,
  type InboxPage,
  type NewInboxEvent,
} from './types';

/** Options shared by every inbox factory (`sqlInbox`, `memoryInbox`, `createInbox`). */
export interface InboxOptions {
  /** How concurrent `ingest` calls share statements. */
  groupCommit?: GroupCommitOptions;
  /**
   * The clock, in epoch milliseconds. Every stored time comes from it, never
   * from the database, so tests can drive time with fake timers.
   * @default Date.now
   */
  clock?: () => number;
  /**
   * Where workers record handler runs through `idempotent()`, keyed on source
   * and event id. `sqlInbox` uses the SQL idempotency store of the same
   * database and schema, `memoryInbox` a memory store.
   * @default none for `createInbox`
   */
  idempotencyStore?: IdempotencyStore;
  /**
   * Receives the ingest side's metrics: an `inbox.batch` event for each
   * group-commit batch (its size, the queue depth, the batches in flight).
   * A listener that throws is ignored.
   * @default none
   */
  onMetric?: InboxMetricListener;
}

/** An event to ingest: a `VerifiedWebhook` fits, as does any `{ id, payload }`. */
export interface IngestableEvent {
  /** The provider's event id: the deduplication key, with the source. */
  id: string;
  /** The verified payload, a JSON object, stored as JSON. */
  payload: unknown;
  /** The event type; read from `payload.type` when absent (a `VerifiedWebhook` whose scheme found none has `undefined`). */
  type?: string | undefined;
  /**
   * The body exactly as verified, kept beside the payload so the event can be
   * verified again or forwarded unchanged (and integers beyond 2^53 survive).
   * Must be UTF-8. A `VerifiedWebhook` carries it.
   */
  rawBody?: Uint8Array | string | undefined;
  /** Request headers to keep with the event (e.g. those the signature scheme read). */
  headers?: Readonly<Record<string, string>> | undefined;
}

/** Options of {@link Inbox.ingest}. */
export interface IngestOptions {
  /**
   * Store the event inside this transaction (an outbox-style write): the row
   * commits or rolls back with the caller's own writes, and it is written at
   * once, outside group commit. Workers find it on their next sweep once the
   * transaction has committed. SQL inboxes only (the executor `db.transaction`
   * hands to its callback).
   */
  tx?: SqlExecutor;
}

/** What {@link Inbox.ingest} did. */
export interface IngestResult extends InboxEventKey {
  /** `stored`: first delivery, now committed. `duplicate`: already stored, nothing written. */
  outcome: 'stored' | 'duplicate';
  /** The event type as stored. */
  type: string;
}

/**
 * What {@link Inbox.replay} takes: an event id, a key (with `force: true`, a
 * processed event too), or a filter (status defaults to `dead`).
 */
export type ReplayTarget = string | (InboxEventKey & { force?: boolean }) | ReplayFilter;

/** Which events to replay. */
export interface ReplayFilter extends Omit<InboxFilter, 'status'> {
  /**
   * Replay events in these states only: `dead`, `failed`, `processed` (with
   * `force`), or several.
   * @default 'dead'
   */
  status?: 'dead' | 'failed' | 'processed' | readonly ('dead' | 'failed' | 'processed')[];
  /**
   * Required to replay `processed` events: their handlers run again on
   * purpose, past the idempotency record of the earlier run (the new run is
   * recorded under a new key, `inbox:<source>:<id>:replay<n>`).
   * @default false
   */
  force?: boolean;
}

/** Options for {@link Inbox.purge}. */
export interface PurgeOptions {
  /** Delete events last updated more than this many milliseconds ago. */
  olderThanMs: number;
  /**
   * Which finished events to delete.
   * @default ['processed']
   */
  status?: 'processed' | 'dead' | readonly ('processed' | 'dead')[];
  /** Only this source. */
  source?: string;
  /**
   * The most events deleted by one call (call again while it returns the limit).
   * @default 10000
   */
  limit?: number;
}

/** Receives the keys of events that became due for processing: new ones and replayed ones. */
export type InboxListener = (keys: readonly InboxEventKey[]) => void;

/**
 * A durable webhook inbox: stores each event once per `(source, id)`, and keeps
 * its processing state. Create one with `sqlInbox(db)` (PGlite or Postgres) or
 * `memoryInbox()`.
 */
export interface Inbox {
  /**
   * Stores a verified event unless it is already stored, through group commit.
   * Resolves once the row is committed (or found to be a duplicate). Catch-up
   * jobs (e.g. a Stripe reconcile) use this to feed events through the same dedupe.
   * @throws InboxError `invalid_event` for an unusable source, id, type or payload
   *   (a payload must be a JSON object; it is serialized in this call, so a bad
   *   one fails alone and never the batch it would have joined);
   *   `overloaded` when too many events already wait to be written;
   *   `store_unavailable` when the store fails or times out; `stopped` after `close()`.
   */
  ingest(source: string, event: IngestableEvent, options?: IngestOptions): Promise<IngestResult>;
  /** One event by source and id, or `null`. */
  get(source: string, id: string): Promise<InboxEvent | null>;
  /** A page of events, oldest first, filtered by status, source, type or ids. */
  list(options?: InboxListOptions): Promise<InboxPage>;
  /** How many events are in each status. */
  counts(filter?: InboxFilter): Promise<InboxCounts>;
  /**
   * Re-runs dead-lettered events: moves them back to `received` with a fresh
   * attempt budget, due now. An event id replays it in every source. With
   * `force: true` (`{ source, id, force: true }` or a filter with
   * `status: 'processed', force: true`) processed events run again too, past
   * the idempotency record of their earlier run. Resolves with how many
   * events were replayed.
   */
  replay(target: ReplayTarget): Promise<number>;
  /**
   * Deletes finished events last updated more than `olderThanMs` ago, so the
   * table does not grow forever; run it from a periodic job. A duplicate is
   * absorbed while its event's row or its idempotency record still exists; one
   * arriving after both are gone is stored and run again, so keep `olderThanMs`
   * well beyond the provider's retry window. Resolves with how many were deleted.
   */
  purge(options: PurgeOptions): Promise<number>;
  /** Subscribes to events becoming due (new and replayed), in this process. Returns the unsubscribe function. */
  subscribe(listener: InboxListener): () => void;
  /** The storage driver underneath (workers claim and settle through it). */
  readonly driver: InboxDriver;
  /** The inbox's clock, in epoch milliseconds. */
  readonly now: () => number;
  /** The idempotency store workers run handlers through, when the inbox has one. */
  readonly idempotencyStore: IdempotencyStore | undefined;
  /**
   * Stops accepting events, waits for pending writes (each at most
   * `groupCommit.timeoutMs`), and closes what the driver opened.
   */
  close(): Promise<void>;
}

/** Runs a store call, turning a store failure into `store_unavailable`. */
async function guard<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw isInboxError(error)
      ? error
      : new InboxError('inbox', 'store_unavailable', 'the inbox store is unavailable', { cause: error });
  }
}

function normalizeStatuses(status: InboxFilter['status'], allowed: readonly string[]): void {
  if (status === undefined) return;
  const list: readonly unknown[] = typeof status === 'string' ? [status] : Array.isArray(status) ? status : [status];
  if (list.length === 0 || list.some((s) => typeof s !== 'string' || !allowed.includes(s))) {
    throw new InboxError('filter', 'invalid_filter', `status must be one of ${allowed.join(', ')}`);
  }
}

function checkFilter(filter: InboxFilter): InboxFilter {
  if (typeof filter !== 'object' || filter === null) {
    throw new InboxError('filter', 'invalid_filter', 'a filter must be an object');
  }
  normalizeStatuses(filter.status, INBOX_STATUSES);
  for (const field of ['source', 'type'] as const) {
    const v = filter[field];
    if (v !== undefined && (typeof v !== 'string' || v.includes('\u0000'))) {
      throw new InboxError('filter', 'invalid_filter', `${field} must be a string without NUL characters`);
    }
  }
  if (
    filter.ids !== undefined &&
    (!Array.isArray(filter.ids) || filter.ids.some((id) => typeof id !== 'string' || id.includes('\u0000')))
  ) {
    throw new InboxError('filter', 'invalid_filter', 'ids must be an array of strings without NUL characters');
  }
  return filter;
}

/**
 * Builds an {@link Inbox} on any {@link InboxDriver}. `sqlInbox` and
 * `memoryInbox` call this; use it directly for a driver of your own.
 *
 * @example
 * ```ts
 * const inbox = createInbox(memoryInboxDriver());
 * await inbox.ingest('stripe', { id: 'evt_1', payload: { type: 'invoice.paid' } });
 * ```
 */
export function createInbox(driver: InboxDriver, options: InboxOptions = {}): Inbox {
  const groupCommit = normalizeGroupCommit(options.groupCommit);
  const now = options.clock ?? Date.now;
  if (typeof now !== 'function') throw new InboxError('createInbox', 'invalid_options', 'clock must be a function');
  const listeners = new Set<InboxListener>();

  const notify = (keys: readonly InboxEventKey[]) => {
    if (keys.length === 0) return;
    for (const listener of listeners) {
      try {
        listener(keys);
      } catch {
        // a listener's failure must not fail the write that already committed
      }
    }
  };

  const { onMetric } = options;
  if (onMetric !== undefined && typeof onMetric !== 'function') {
    throw new InboxError('createInbox', 'invalid_options', 'onMetric must be a function (metric) => void');
  }
  const committer = groupCommitter<NewInboxEvent, BatchResult>(
    batchWriter(driver, now, notify),
    groupCommit,
    onMetric === undefined ? undefined : (batch) => onMetric({ name: 'inbox.batch', ...batch }),
  );

  /** An outbox write: one row, in the caller's transaction, outside group commit. */
  async function ingestInTransaction(row: NewInboxEvent, tx: SqlExecutor): Promise<boolean> {
    if (typeof tx?.query !== 'function') {
      throw new InboxError('ingest', 'invalid_options', 'tx must be a SqlExecutor (the one db.transaction hands over)');
    }
    let stored: boolean[];
    try {
      stored = await driver.insert([row], new Date(now()), { tx });
    } catch (error) {
      throw storeError(error);
    }
    if (!Array.isArray(stored) || stored.length !== 1) {
      throw new InboxError('ingest', 'store_unavailable', 'the inbox driver answered no result for the event');
    }
    return stored[0] === true;
  }
  let closed = false;

  return {
    driver,
    now,
    idempotencyStore: options.idempotencyStore,
    async ingest(source, event, ingestOptions) {
      if (closed) throw new InboxError('ingest', 'stopped', 'the inbox was closed');
      const row = toNewEvent(source, event);
      let stored: BatchResult;
      if (ingestOptions?.tx !== undefined) stored = await ingestInTransaction(row, ingestOptions.tx);
      else {
        try {
          stored = await committer.submit(row, eventBytes(row));
        } catch (error) {
          throw storeError(error);
        }
      }
      if (stored instanceof InboxError) throw stored;
      return { source, id: row.id, type: row.type, outcome: stored ? 'stored' : 'duplicate' };
    },
    async get(source, id) {
      if (typeof source !== 'string' || typeof id !== 'string') {
        throw new InboxError('get', 'invalid_filter', 'get takes a source and an event id, both strings');
      }
      // no stored event holds a NUL (ingest refuses it, SQL text cannot): such a key is simply not there
      if (source.includes('\u0000') || id.includes('\u0000')) return null;
      return guard(() => driver.get({ source, id }));
    },
    async list(listOptions = {}) {
      checkFilter(listOptions);
      const limit = listOptions.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw new InboxError('list', 'invalid_filter', `limit must be an integer from 1 to 1000, got ${String(limit)}`);
      }
      if (listOptions.cursor !== undefined && !/^[0-9]{1,19}$/.test(listOptions.cursor)) {
        throw new InboxError('list', 'invalid_filter', 'cursor must be a nextCursor returned by list()');
      }
      return guard(() => driver.list({ ...listOptions, limit }));
    },
    async counts(filter = {}) {
      checkFilter(filter);
      return guard(() => driver.counts(filter));
    },
    async replay(target) {
      let filter: InboxFilter;
      if (typeof target === 'string') filter = { ids: [target], status: 'dead' };
      else if (typeof target === 'object' && target !== null && 'id' in target) {
        const force = (target as { force?: unknown }).force === true;
        filter = { source: target.source, ids: [target.id], status: force ? ['dead', 'processed'] : 'dead' };
      } else {
        if (typeof target !== 'object' || target === null) {
          throw new InboxError('replay', 'invalid_filter', 'replay takes an event id, { source, id } or a filter');
        }
        const { status = 'dead', force, ...rest } = target;
        normalizeStatuses(status, ['dead', 'failed', 'processed']);
        const statuses: readonly string[] = typeof status === 'string' ? [status] : status;
        if (statuses.includes('processed') && force !== true) {
          throw new InboxError(
            'replay',
            'invalid_filter',
            'replaying processed events runs their handlers again, past their idempotency record: pass force: true to mean it',
          );
        }
        filter = { ...checkFilter(rest), status };
      }
      const keys = await guard(() => driver.replay(filter, new Date(now())));
      notify(keys);
      return keys.length;
    },
    async purge(purgeOptions) {
      if (typeof purgeOptions !== 'object' || purgeOptions === null) {
        throw new InboxError('purge', 'invalid_filter', 'purge takes { olderThanMs, status?, source?, limit? }');
      }
      const { olderThanMs, status = 'processed', source, limit = 10_000 } = purgeOptions;
      if (typeof olderThanMs !== 'number' || !Number.isFinite(olderThanMs) || olderThanMs < 0) {
        throw new InboxError(
          'purge',
          'invalid_filter',
          `olderThanMs must be a non-negative number, got ${String(olderThanMs)}`,
        );
      }
      if (!Number.isInteger(limit) || limit < 1) {
        throw new InboxError('purge', 'invalid_filter', `limit must be a positive integer, got ${String(limit)}`);
      }
      normalizeStatuses(status, ['processed', 'dead']);
      if (source !== undefined && typeof source !== 'string') {
        throw new InboxError('purge', 'invalid_filter', 'source must be a string');
      }
      const statuses = typeof status === 'string' ? [status] : [...status];
      const before = new Date(now() - olderThanMs);
      return guard(() => driver.purge({ statuses, before, limit, ...(source === undefined ? {} : { source }) }));
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await committer.close();
      listeners.clear();
      await driver.close?.();
    },
  };
}
