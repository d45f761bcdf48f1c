/**
 * The inbox's data model and its driver contract.
 *
 * A driver ({@link InboxDriver}) is the small storage interface: insert a batch,
 * claim due rows with a lease, settle a claim, and read rows back. Everything
 * above it (group commit, processing, retries, the HTTP handler) is written once
 * against this contract.
 */

import type { SqlExecutor } from '../stores/sql';

/**
 * Where an event is in its life.
 *
 * - `received`: stored, waiting for its first attempt.
 * - `processing`: a worker holds a lease on it and runs its handler.
 * - `processed`: its handler succeeded (or it had no handler).
 * - `failed`: an attempt failed; the next one is due at `nextAttemptAt`.
 * - `dead`: attempts are used up; `lastError` holds the last failure. `replay` revives it.
 */
export type InboxStatus = 'received' | 'processing' | 'processed' | 'failed' | 'dead';

/** Every {@link InboxStatus}, in life order. */
export const INBOX_STATUSES: readonly InboxStatus[] = ['received', 'processing', 'processed', 'failed', 'dead'];

/** Identifies one event: unique per source. */
export interface InboxEventKey {
  /** Who sent it, e.g. `stripe`. */
  source: string;
  /** The provider's event id, e.g. `evt_1Nq...`. */
  id: string;
}

/**
 * An event to store, already serialized: the inbox serializes each event in
 * its caller's own step, so a payload that cannot be stored fails that call
 * alone and never the batch it would have joined.
 */
export interface NewInboxEvent extends InboxEventKey {
  /** The event type, used to pick its handler, e.g. `invoice.paid`. */
  type: string;
  /** The payload as JSON text (a JSON object). */
  payloadJson: string;
  /** The body exactly as it was verified (UTF-8 text), or `null` when the event did not come with one. */
  rawBody: string | null;
  /** The request headers the signature scheme read (lower-case names), or `null`. */
  headers: Readonly<Record<string, string>> | null;
}

/** Options of {@link InboxDriver.insert}. */
export interface InsertOptions {
  /**
   * Write through this transaction (the caller's), instead of the driver's own
   * client: the rows commit or roll back with the caller's other writes. Only
   * SQL drivers accept it.
   */
  tx?: SqlExecutor;
}

/** One stored event, as the inbox holds it. */
export interface InboxEvent<P = unknown> extends InboxEventKey {
  /** The event type. */
  type: string;
  /** The payload, as stored (parsed from JSON: integers beyond 2^53 lose precision; `rawBody` keeps them). */
  payload: P;
  /**
   * The body exactly as verified (UTF-8 text), so the event can be verified
   * again or forwarded byte for byte; `null` for events ingested without one.
   */
  rawBody: string | null;
  /** The request headers the signature scheme read (lower-case names), or `null`. */
  headers: Readonly<Record<string, string>> | null;
  /** Where the event is in its life. */
  status: InboxStatus;
  /** How many attempts were started (a claim counts as one). */
  attempts: number;
  /** The message of the last failed attempt, if any. */
  lastError: string | null;
  /** When the event was first stored. */
  receivedAt: Date;
  /** When the row last changed. */
  updatedAt: Date;
  /** When the next attempt is due (`received`/`failed`), or when the lease runs out (`processing`). */
  nextAttemptAt: Date | null;
  /** Who holds the lease while `processing`. */
  leaseOwner: string | null;
  /** When the current lease runs out, while `processing`. */
  leaseUntil: Date | null;
  /** When the handler succeeded. */
  processedAt: Date | null;
  /**
   * How many times the event was replayed with `force` after it was processed
   * (its run's idempotency key carries this number, so a forced replay runs again).
   */
  replays: number;
  /** Every attempt that ran, oldest first: not only the last error. */
  history: InboxAttempt[];
}

/** One attempt of an event, as its history keeps it. */
export interface InboxAttempt {
  /** The attempt's number (from 1; a replay starts again at 1). */
  attempt: number;
  /** When it was claimed. */
  startedAt: Date;
  /** When it was settled. */
  endedAt: Date;
  /** How it ended. */
  outcome: 'processed' | 'failed' | 'dead';
  /** The failure, for `failed` and `dead`. */
  error: string | null;
}

/** A claimed event: the lease token settles it. */
export interface ClaimedInboxEvent<P = unknown> extends InboxEvent<P> {
  leaseOwner: string;
  leaseUntil: Date;
}

/** Filters for listing, counting and replaying events. Every field narrows; all are optional. */
export interface InboxFilter {
  /** One source. */
  source?: string;
  /** One event type. */
  type?: string;
  /** One status, or any of several. */
  status?: InboxStatus | readonly InboxStatus[];
  /** Only these event ids. */
  ids?: readonly string[];
}

/** A page request for {@link InboxDriver.list}. */
export interface InboxListOptions extends InboxFilter {
  /**
   * Rows per page, 1 to 1000.
   * @default 100
   */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

/** One page of events, oldest first. */
export interface InboxPage {
  events: InboxEvent[];
  /** Pass as `cursor` for the next page; `null` on the last page. */
  nextCursor: string | null;
}

/** How many events are in each status (and in all). */
export type InboxCounts = Record<InboxStatus, number> & { total: number };

/** A claim request: take up to `limit` due events and lease them to `owner` until `leaseUntil`. */
export interface ClaimRequest {
  /** Only events of this source. */
  source: string;
  /** Only this event (a targeted claim); otherwise the oldest due events. */
  id?: string;
  /** The lease token; settling requires it. */
  owner: string;
  /** The current time (the driver never reads its own clock, so fake timers hold). */
  now: Date;
  /** When the lease runs out. */
  leaseUntil: Date;
  /** At most this many events. */
  limit: number;
}

/** A purge request for {@link InboxDriver.purge}. */
export interface PurgeRequest {
  /** Only events in these states (finished ones: `processed`, `dead`). */
  statuses: readonly ('processed' | 'dead')[];
  /** Only events last updated before this time. */
  before: Date;
  /** Only this source. */
  source?: string;
  /** At most this many events. */
  limit: number;
}

/**
 * How an attempt ended, for {@link InboxDriver.settle}. `deferred`: the
 * attempt could not start (another run held the event's idempotency key), so
 * it does not count: the event goes back to waiting with its attempt refunded.
 */
export type Settlement =
  | { status: 'processed' }
  | { status: 'failed'; error: string; nextAttemptAt: Date }
  | { status: 'deferred'; error: string; nextAttemptAt: Date }
  | { status: 'dead'; error: string };

/**
 * The storage contract an inbox driver implements. Drivers: `sqlInbox` (PGlite
 * and Postgres, `@ballast/core/stores/sql`) and `memoryInbox`
 * (`@ballast/core/stores/memory`).
 *
 * Every time comes from the caller, never from the driver's clock.
 */
export interface InboxDriver {
  /**
   * Stores a batch of events in one statement (one commit), skipping those
   * already stored. Resolves with `true` for each event stored by this call and
   * `false` for a duplicate, in input order. Keys within a batch must be distinct.
   * An error caused by the data itself (a payload the store cannot hold) is
   * thrown as an `InboxError` with code `invalid_event`, or as a database error
   * whose SQLSTATE class is 22, 23 or 54; any other error reads as the store
   * being unavailable.
   */
  insert(events: readonly NewInboxEvent[], now: Date, options?: InsertOptions): Promise<boolean[]>;
  /**
   * Atomically leases due events: `received` or `failed` whose `nextAttemptAt`
   * has come, and `processing` whose lease has run out. Each claim counts one attempt.
   * Concurrent claimers never get the same event.
   */
  claim(request: ClaimRequest): Promise<ClaimedInboxEvent[]>;
  /**
   * Extends the lease of a claimed event to `leaseUntil` (a heartbeat while its
   * handler runs); `false` when `owner` no longer holds it.
   */
  extend(key: InboxEventKey, owner: string, leaseUntil: Date, now: Date): Promise<boolean>;
  /**
   * Settles a claimed event; `false` when `owner` no longer holds its lease.
   * `attempt`, when given, is appended to the event's history.
   */
  settle(key: InboxEventKey, owner: string, outcome: Settlement, now: Date, attempt?: InboxAttempt): Promise<boolean>;
  /**
   * Moves matching events back to `received`, due at `now`, with a fresh
   * attempt budget; a `processed` one also counts a forced replay
   * (`replays + 1`). Resolves with the keys moved.
   */
  replay(filter: InboxFilter, now: Date): Promise<InboxEventKey[]>;
  /**
   * Deletes up to `limit` events in `statuses` last updated before `before`
   * (optionally of one source), oldest first. Resolves with how many it deleted.
   */
  purge(request: PurgeRequest): Promise<number>;
  /** One event, or `null`. */
  get(key: InboxEventKey): Promise<InboxEvent | null>;
  /** A page of events, oldest first. */
  list(options: InboxListOptions): Promise<InboxPage>;
  /** Counts by status. */
  counts(filter: InboxFilter): Promise<InboxCounts>;
  /**
   * The same driver issuing its statements through `executor`, a transaction
   * on the same database (SQL drivers only). The worker extends a lease
   * through the handler's own transaction with it, so a heartbeat never waits
   * for the connection that transaction holds.
   */
  bind?(executor: SqlExecutor): InboxDriver;
  /** Releases what the driver opened itself (never a client passed in). */
  close?(): Promise<void>;
}

/**
 * A measurement the inbox reports as it works, for an exporter (OpenTelemetry,
 * Prometheus) to read: pass a listener as `onMetric` to the worker (and to the
 * inbox for the ingest side). Every variant has a `name` to switch on and, but
 * `inbox.batch`, the `source` it concerns; durations are milliseconds from the
 * inbox's clock.
 *
 * - `inbox.attempt`: one handler attempt ended. `outcome` is `processed`,
 *   `failed` (retried later), `dead` (dead-lettered: count these for a dead
 *   counter), `deferred` (another run held the event's idempotency key: retried
 *   later, no attempt spent) or `unhandled` (no handler matched). `attempt` is
 *   the attempt number, `durationMs` how long the attempt took.
 * - `inbox.lag`: an event was processed `lagMs` after it was received
 *   (processing lag, a histogram).
 * - `inbox.claim`: a sweep or a queue job claimed `size` events at once (the
 *   processing batch size).
 * - `inbox.batch` (ingest side, from the inbox's `onMetric`): group commit
 *   started writing a batch of `size` events; `pending` events still wait for a
 *   batch (the write queue's depth, bounded by `groupCommit.maxPending`) and
 *   `inFlight` batches are being written, this one included. A batch holds
 *   events of any source, so this variant has no `source`.
 */
export type InboxMetric =
  | {
      name: 'inbox.attempt';
      source: string;
      type: string;
      outcome: 'processed' | 'failed' | 'dead' | 'deferred' | 'unhandled';
      attempt: number;
      durationMs: number;
    }
  | { name: 'inbox.lag'; source: string; type: string; lagMs: number }
  | { name: 'inbox.claim'; source: string; size: number }
  | { name: 'inbox.batch'; size: number; pending: number; inFlight: number };

/** Receives {@link InboxMetric}s. Must not throw; a throw is swallowed. */
export type InboxMetricListener = (metric: InboxMetric) => void;
