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
   * Incremental runs: what to pass as an `updated_since` filter: the
   * previous completed run's high-water mark (the largest `cursorField`
   * value stored) or, without one, its start, minus the table's
   * `lookbackMs`. `null` for full runs and for the first run.
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

/**
 * Fetches records by id, to re-check a full run's delete candidates: resolves
 * to the records the provider still has (in any order, more or fewer than
 * asked); an id with no record in the answer is deleted. Called with up to
 * 100 ids at a time, after the last page, only when the run has candidates
 * within `maxDeleteRatio`. For Pipedrive v1, one `GET /v1/persons/{id}` per
 * id, a 404 leaving it out.
 */
export type FetchByIds<T> = (
  ids: readonly string[],
  context: { signal: AbortSignal | undefined },
) => Promise<readonly T[]>;

/**
 * A resumable source: called with where to start, returns the pages from
 * there on. It may carry what delete detection needs to know about it.
 */
export interface PageSource<T> {
  (start: SourceStart): AsyncIterable<SyncPage<T>>;
  /**
   * True when pages are addressed by position (offset and limit): a record
   * deleted at the provider during a run shifts the later pages, and the
   * record moved across a page boundary is never listed. A full run over
   * such a source re-checks its delete candidates with `fetchByIds`, and
   * without one refuses to start (`unsafe_deletes`). Set by `offsetPages`.
   */
  readonly offsetPaged?: boolean;
  /** Re-checks delete candidates by id before a full run deletes them (see {@link FetchByIds}). */
  readonly fetchByIds?: FetchByIds<T>;
}

/**
 * Anything a run can read: a resumable {@link PageSource}, or a plain async
 * iterable of pages (which cannot resume: an interrupted run over one is
 * abandoned and the next run starts over).
 */
export type SyncSource<T> = PageSource<T> | AsyncIterable<SyncPage<T>>;

/** What a page helper's `fetch` is given. */
interface FetchContext {
  /** Incremental runs: the `updated_since` to ask for (see {@link SourceStart}), else `null`. */
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

/** What every page helper accepts besides its `fetch`. */
interface DeleteRecheck<T> {
  /**
   * Fetches records by id, to re-check a full run's delete candidates before
   * they are soft-deleted (see {@link FetchByIds}). Required for full runs
   * over `offsetPages` that detect deletes; optional elsewhere.
   */
  fetchByIds?: FetchByIds<T>;
}

/** Attaches a helper's traits to its source function. */
function withTraits<T>(
  api: string,
  source: (start: SourceStart) => AsyncIterable<SyncPage<T>>,
  options: DeleteRecheck<T>,
  offsetPaged: boolean,
): PageSource<T> {
  if (options.fetchByIds !== undefined) requireFunction(api, 'fetchByIds', options.fetchByIds);
  return Object.assign(source, {
    offsetPaged,
    ...(options.fetchByIds === undefined ? {} : { fetchByIds: options.fetchByIds }),
  });
}

/** Options of {@link cursorPages}. */
export interface CursorPagesOptions<T> extends DeleteRecheck<T> {
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
  return withTraits(api, pages, options, false);
  async function* pages(start: SourceStart) {
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
  }
}

/** Options of {@link offsetPages}. */
export interface OffsetPagesOptions<T> extends DeleteRecheck<T> {
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
 * Offsets move when the provider deletes a record during a run: every later
 * record shifts one place up and the one that crosses a page boundary is
 * never listed. A full run that detects deletes therefore re-checks its
 * delete candidates with `fetchByIds`, and without it refuses to start
 * (`unsafe_deletes`).
 *
 * @example
 * ```ts
 * const deals = offsetPages<Deal>({
 *   limit: 500,
 *   async fetch({ offset, limit }) {
 *     const body = await (await fetch(`${base}/v1/deals?start=${offset}&limit=${limit}`)).json();
 *     return { records: body.data ?? [], more: body.additional_data.pagination.more_items_in_collection };
 *   },
 *   async fetchByIds(ids) {
 *     const found: Deal[] = [];
 *     for (const id of ids) {
 *       const res = await fetch(`${base}/v1/deals/${id}`);
 *       if (res.status === 404) continue; // gone: left out, so deleted
 *       if (!res.ok) throw new Error(`deal ${id}: HTTP ${res.status}`); // unknown: the run stays resumable
 *       found.push((await res.json()).data);
 *     }
 *     return found;
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
  return withTraits(api, pages, options, true);
  async function* pages(start: SourceStart) {
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
  }
}

/** Options of {@link startingAfterPages}. */
export interface StartingAfterPagesOptions<T> extends DeleteRecheck<T> {
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
  return withTraits(api, pages, options, false);
  async function* pages(start: SourceStart) {
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
  }
}
