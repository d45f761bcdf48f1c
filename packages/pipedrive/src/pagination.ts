import { PipedriveError } from './errors';

/** Query parameters of a Pipedrive call; undefined values are left out, arrays joined with commas. */
export type PipedriveQuery = Record<string, string | number | boolean | readonly (string | number)[] | undefined>;

/** A successful Pipedrive envelope: `data` and `additional_data`. */
export interface PipedriveEnvelope<T = unknown> {
  data: T;
  additional_data?: Record<string, unknown> | null | undefined;
}

/** One page of a list. */
export interface PipedrivePage<T> {
  items: T[];
  /** v2 and `/v1/*\/collection`: the cursor of the next page, null at the end. */
  nextCursor?: string | null;
  /** v1 offset lists: where the next page starts, undefined at the end. */
  nextStart?: number | undefined;
}

/** Fetches one page as an envelope. @internal */
export type PageGetter = (path: string, query: PipedriveQuery) => Promise<PipedriveEnvelope>;

/** The largest page Pipedrive serves. */
export const MAX_PAGE_LIMIT = 500;

function malformed(path: string, what: string): PipedriveError {
  return new PipedriveError('malformed_response', `GET ${path} answered a page that cannot be followed: ${what}`, {
    operation: `GET ${path}`,
  });
}

function itemsOf<T>(envelope: PipedriveEnvelope, parse: (item: unknown) => T): T[] {
  // Pipedrive answers an empty list with data: null on some endpoints
  return Array.isArray(envelope.data) ? envelope.data.map(parse) : [];
}

/**
 * Pages of a cursor-paginated list (`cursor` in, `additional_data.next_cursor`
 * out, null at the end). A page without a readable `next_cursor`, or one that
 * names the cursor it was fetched with, is a `malformed_response` error, never
 * a silent end.
 * @internal
 */
export async function* cursorPages<T>(
  get: PageGetter,
  path: string,
  query: PipedriveQuery,
  parse: (item: unknown) => T,
): AsyncGenerator<PipedrivePage<T>, void, undefined> {
  let cursor = typeof query.cursor === 'string' ? query.cursor : undefined;
  for (;;) {
    const envelope = await get(path, cursor === undefined ? query : { ...query, cursor });
    const data = envelope.data;
    if (data !== null && !Array.isArray(data)) throw malformed(path, 'data is not an array');
    const extra = envelope.additional_data;
    if (extra !== undefined && extra !== null && typeof extra !== 'object')
      throw malformed(path, 'additional_data is not an object');
    const next = extra?.next_cursor;
    if (next !== undefined && next !== null && (typeof next !== 'string' || next === ''))
      throw malformed(path, `next_cursor is ${JSON.stringify(next)}`);
    // a non-empty page must say whether more follow: a missing field is not "the end"
    if (Array.isArray(data) && data.length > 0 && (extra === undefined || extra === null || !('next_cursor' in extra)))
      throw malformed(path, 'additional_data.next_cursor is missing');
    if (typeof next === 'string' && next === cursor)
      throw malformed(path, `next_cursor repeats ${JSON.stringify(next)}`);
    const items = itemsOf(envelope, parse);
    yield { items, nextCursor: typeof next === 'string' ? next : null };
    if (typeof next !== 'string') return;
    cursor = next;
  }
}

/**
 * Pages of an offset-paginated v1 list (`start` in,
 * `additional_data.pagination.{more_items_in_collection, next_start}` out).
 * A page that says more items follow without a forward `next_start` is a
 * `malformed_response` error.
 * @internal
 */
export async function* offsetPages<T>(
  get: PageGetter,
  path: string,
  query: PipedriveQuery,
  parse: (item: unknown) => T,
): AsyncGenerator<PipedrivePage<T>, void, undefined> {
  let start = typeof query.start === 'number' ? query.start : 0;
  for (;;) {
    const envelope = await get(path, { ...query, start });
    const data = envelope.data;
    if (data !== null && !Array.isArray(data)) throw malformed(path, 'data is not an array');
    const pagination = (envelope.additional_data as { pagination?: unknown } | null | undefined)?.pagination;
    if (Array.isArray(data) && data.length > 0 && (typeof pagination !== 'object' || pagination === null))
      throw malformed(path, 'additional_data.pagination is missing');
    const p = (pagination ?? {}) as { more_items_in_collection?: unknown; next_start?: unknown };
    if (p.more_items_in_collection !== undefined && typeof p.more_items_in_collection !== 'boolean')
      throw malformed(path, 'more_items_in_collection is not a boolean');
    const more = p.more_items_in_collection === true;
    if (more && (typeof p.next_start !== 'number' || !Number.isInteger(p.next_start) || p.next_start <= start))
      throw malformed(path, `more_items_in_collection without a next_start past ${start}`);
    const items = itemsOf(envelope, parse);
    yield { items, nextStart: more ? (p.next_start as number) : undefined };
    if (!more) return;
    start = p.next_start as number;
  }
}
