/** One record of a bulk job: its unique key and the data to write. */
export interface BulkRecord<T = unknown> {
  /**
   * The record's unique key on the provider's side, e.g. the value of an
   * external-id custom field. The job finds, creates and checkpoints by it.
   */
  key: string;
  /** What to create or update. */
  data: T;
}

/** A remote record's key and id, as the target's index lists them. */
export interface BulkIndexEntry {
  key: string;
  id: string;
}

/** What each kind of request costs against the provider's daily budget. */
export interface BulkCosts {
  /** One page of the index. */
  indexPage: number;
  /** Records per index page. */
  indexPageSize: number;
  /** One lookup by key. */
  find: number;
  /** One create. */
  create: number;
  /** One update. */
  update: number;
}

/** The daily budget left, as the target knows it. */
export interface BulkBudget {
  /** Units left until the reset. */
  remaining: number;
  /** When the budget resets. */
  resetsAt: Date;
}

/**
 * The provider side of a bulk job: a small interface a provider package
 * implements over its client (see `@ballast/pipedrive`'s `bulkUpsertPersons`).
 * Pacing is the client's business (its rate limiter); the job keeps
 * `concurrency` requests in flight so the limiter always has the next one.
 */
export interface BulkTarget<T = unknown> {
  /** Names the target in messages, e.g. `pipedrive persons`. */
  readonly name: string;
  /**
   * Checks a record before anything is sent; a message means the record is
   * invalid (an `invalid_record` failure, the job goes on).
   */
  validate?(record: BulkRecord<T>): string | undefined;
  /**
   * Lists every remote record that carries a key, in one pass (a paged list
   * endpoint): the job's lookup for `lookup: 'index'`.
   */
  index?(signal: AbortSignal): AsyncIterable<BulkIndexEntry>;
  /** The ids of the remote records with this key (none, one, or more when the key is not unique remotely). */
  find?(key: string, signal: AbortSignal): Promise<string[]>;
  /** Creates the record (its key included, so a later lookup finds it); resolves with the new id. */
  create(record: BulkRecord<T>, signal: AbortSignal): Promise<string>;
  /** Updates the record with this id. */
  update(id: string, record: BulkRecord<T>, signal: AbortSignal): Promise<void>;
  /**
   * Tells an error that concerns one record (a validation error, a 404) from
   * one that concerns the job (credentials, a ban, an outage): the first is a
   * failure in the result, the second stops the job.
   */
  itemError(error: unknown): { code: string; message: string; status?: number } | undefined;
  /** True for an error that says the daily budget is spent: the job pauses until the reset. */
  isBudgetError?(error: unknown): boolean;
  /** Costs per request, for the plan. Without it the plan counts requests only. */
  readonly costs?: BulkCosts;
  /** The budget left, if the target tracks one. */
  budget?(): BulkBudget | undefined;
  /** The request rate the client paces to, for the time estimate before any is measured. */
  readonly rate?: { requests: number; intervalMs: number };
  /** Requests to keep in flight. @default 8 */
  readonly concurrency?: number;
}
