import { SyncError } from './errors';

/**
 * Sources: async iterables of pages, and helpers that build one from the three
 * pagination styles providers use (an opaque cursor, an offset, the id of the
 * last record).
 */

/** One page of records from a source. */
export interface SyncPage<T> {
  /** The records of this page, raw as the provider sent them. */
  records: readonly T[];
  /**
   * Where the page after this one starts (a cursor, an offset, the last id),
   * saved as the run's checkpoint once the page is stored. `null` or absent
   * on the last page.
   */
  next?: string | null | undefined;
}

/** Where a source is asked to start. */
export interface SourceStart {
  /** The run's mode. */
  mode: 'full' | 'incremental';
  /**
   * The checkpoint to continue from: the `next` of the last stored page of an
   * interrupted run. `null` when the run starts (from the beginning).
   */
  cursor: string | null;
  /**
   * Incremental runs: when the previous completed run started, to pass as an
   * `updated_since` filter. `null` for full runs and for the first run.
   */
  since: Date | null;
  /**
   * Incremental runs: the last cursor of the previous completed run, for
   * change feeds that continue from a position (an event id, a sync token):
   * start from `cursor ?? lastCursor`. `null` for full runs and the first run.
   */
  lastCursor: string | null;
  /** Fires when the run is aborted; pass it on to `fetch`. */
  signal: AbortSignal | undefined;
}

/** A resumable source: called with where to start, returns the pages from there on. */
export type PageSource<T> = (start: SourceStart) => AsyncIterable<SyncPage<T>>;

/**
 * Anything a run can read: a resumable {@link PageSource}, or a plain async
 * iterable of pages (which cannot resume: an interrupted run over one is
 * abandoned and the next run starts over).
 */
export type SyncSource<T> = PageSource<T> | AsyncIterable<SyncPage<T>>;

/** What a page helper's `fetch` is given. */
interface FetchContext {
  /** Incremental runs: when the previous completed run started (for `updated_since`), else `null`. */
  since: Date | null;
  /** Incremental runs: the previous completed run's last cursor, else `null` (see {@link SourceStart}). */
  lastCursor: string | null;
  /** The run's mode. */
  mode: 'full' | 'incremental';
  /** Fires when the run is aborted. */
  signal: AbortSignal | undefined;
}

function requireFunction(api: string, name: string, value: unknown): void {
  if (typeof value !== 'function') {
    throw new SyncError(api, 'invalid_options', `${name} must be a function, got ${typeof value}`);
  }
}

function checkRecords(api: string, records: unknown): asserts records is readonly unknown[] {
  if (!Array.isArray(records)) {
    throw new SyncError(
      api,
      'invalid_page',
      `fetch must resolve to a page with a records array, got ${typeof records}`,
    );
  }
}

/** Options of {@link cursorPages}. */
export interface CursorPagesOptions<T> {
  /**
   * Fetches the page at `cursor` (`null` for the first page) and returns its
   * records and the cursor of the next page (`null` or absent at the end).
   */
  fetch(context: FetchContext & { cursor: string | null }): Promise<{ records: readonly T[]; next?: string | null }>;
}

/**
 * A source over opaque-cursor pagination (Pipedrive v2 `cursor` /
 * `additional_data.next_cursor`, GraphQL `endCursor`).
 *
 * @example
 * ```ts
 * const persons = cursorPages<Person>({
 *   async fetch({ cursor, since, signal }) {
 *     const url = new URL('https://api.pipedrive.com/api/v2/persons?limit=500');
 *     if (cursor) url.searchParams.set('cursor', cursor);
 *     if (since) url.searchParams.set('updated_since', since.toISOString());
 *     const body = await (await fetch(url, { signal })).json();
 *     return { records: body.data, next: body.additional_data?.next_cursor ?? null };
 *   },
 * });
 * ```
 */
export function cursorPages<T>(options: CursorPagesOptions<T>): PageSource<T> {
  const api = 'cursorPages';
  requireFunction(api, 'fetch', options?.fetch);
  const fetchPage = options.fetch;
  return async function* (start) {
    let cursor = start.cursor;
    for (;;) {
      const page = await fetchPage({
        cursor,
        since: start.since,
        lastCursor: start.lastCursor,
        mode: start.mode,
        signal: start.signal,
      });
      checkRecords(api, page?.records);
      const next = page.next ?? null;
      if (next !== null && next === cursor) {
        throw new SyncError(
          api,
          'invalid_page',
          `the source returned the cursor it was given (${next}): it would loop`,
        );
      }
      yield { records: page.records, next };
      if (next === null) return;
      cursor = next;
    }
  };
}

/** Options of {@link offsetPages}. */
export interface OffsetPagesOptions<T> {
  /**
   * Page size asked for.
   * @default 100
   */
  limit?: number;
  /**
   * Fetches `limit` records from `offset`. Return `more` when the provider
   * says whether more exist (Pipedrive's `more_items_in_collection`); without
   * it, a short page ends the source.
   */
  fetch(context: FetchContext & { offset: number; limit: number }): Promise<{ records: readonly T[]; more?: boolean }>;
}

/**
 * A source over offset pagination (Pipedrive v1 `start` / `limit`,
 * `LIMIT ... OFFSET` APIs). The checkpoint is the next offset.
 *
 * @example
 * ```ts
 * const deals = offsetPages<Deal>({
 *   limit: 500,
 *   async fetch({ offset, limit }) {
 *     const body = await (await fetch(`${base}/v1/deals?start=${offset}&limit=${limit}`)).json();
 *     return { records: body.data ?? [], more: body.additional_data.pagination.more_items_in_collection };
 *   },
 * });
 * ```
 */
export function offsetPages<T>(options: OffsetPagesOptions<T>): PageSource<T> {
  const api = 'offsetPages';
  requireFunction(api, 'fetch', options?.fetch);
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new SyncError(api, 'invalid_options', `limit must be a positive integer, got ${String(limit)}`);
  }
  const fetchPage = options.fetch;
  return async function* (start) {
    let offset = 0;
    if (start.cursor !== null) {
      offset = Number(start.cursor);
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new SyncError(api, 'invalid_page', `the checkpoint ${JSON.stringify(start.cursor)} is not an offset`);
      }
    }
    for (;;) {
      const page = await fetchPage({
        offset,
        limit,
        since: start.since,
        lastCursor: start.lastCursor,
        mode: start.mode,
        signal: start.signal,
      });
      checkRecords(api, page?.records);
      const more = page.more ?? page.records.length >= limit;
      const nextOffset = offset + page.records.length;
      const last = !more || page.records.length === 0;
      yield { records: page.records, next: last ? null : String(nextOffset) };
      if (last) return;
      offset = nextOffset;
    }
  };
}

/** Options of {@link startingAfterPages}. */
export interface StartingAfterPagesOptions<T> {
  /**
   * Fetches the page after the record with id `startingAfter` (`null` for the
   * first page). Return the provider's list shape: `data` and `has_more`.
   */
  fetch(context: FetchContext & { startingAfter: string | null }): Promise<{ data: readonly T[]; has_more: boolean }>;
  /**
   * The id to pass as `starting_after` for the page after a record.
   * @default (record) => String(record.id)
   */
  idOf?(record: T): string;
}

const defaultId = (record: unknown): string => {
  const id = (record as { id?: unknown } | null)?.id;
  if (typeof id !== 'string' && typeof id !== 'number') {
    throw new SyncError('startingAfterPages', 'invalid_page', 'the last record of a page has no string or number id');
  }
  return String(id);
};

/**
 * A source over `starting_after` pagination (Stripe lists:
 * `{ object: 'list', data, has_more }`). The checkpoint is the last id seen.
 *
 * @example
 * ```ts
 * const customers = startingAfterPages<Stripe.Customer>({
 *   fetch: ({ startingAfter }) =>
 *     stripe.customers.list({ limit: 100, ...(startingAfter ? { starting_after: startingAfter } : {}) }),
 * });
 * ```
 */
export function startingAfterPages<T>(options: StartingAfterPagesOptions<T>): PageSource<T> {
  const api = 'startingAfterPages';
  requireFunction(api, 'fetch', options?.fetch);
  if (options.idOf !== undefined) requireFunction(api, 'idOf', options.idOf);
  const fetchPage = options.fetch;
  const idOf = options.idOf ?? defaultId;
  return async function* (start) {
    let after = start.cursor;
    for (;;) {
      const page = await fetchPage({
        startingAfter: after,
        since: start.since,
        lastCursor: start.lastCursor,
        mode: start.mode,
        signal: start.signal,
      });
      checkRecords(api, page?.data);
      const lastRecord = page.data[page.data.length - 1];
      const next = page.has_more === true && lastRecord !== undefined ? idOf(lastRecord) : null;
      yield { records: page.data, next };
      if (next === null) return;
      after = next;
    }
  };
}
