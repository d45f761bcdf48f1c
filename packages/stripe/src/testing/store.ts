import { invalid, type Json, type JsonObject, missing, type Params, str } from './params';

interface Entry {
  seq: number;
  object: JsonObject;
}

/** A filter over stored objects for list endpoints. */
export type Filter = (object: JsonObject) => boolean;

/** The fake's objects by id and by kind, in creation order. */
export interface FakeStore {
  put(object: JsonObject): JsonObject;
  get(id: string): JsonObject | undefined;
  require(kind: string, id: string, param?: string): JsonObject;
  /** Objects of one `object` kind, newest first. */
  all(kind: string): JsonObject[];
  /** One page of a list endpoint, Stripe style. */
  page(kind: string, url: string, params: Params, filter?: Filter): JsonObject;
}

/** Creates an empty store. */
export function createStore(): FakeStore {
  const byId = new Map<string, Entry>();
  const byKind = new Map<string, Entry[]>();
  let seq = 0;

  const newestFirst = (kind: string): Entry[] => [...(byKind.get(kind) ?? [])].reverse();

  return {
    put(object) {
      const id = object.id as string;
      const existing = byId.get(id);
      if (existing) {
        existing.object = object;
        return object;
      }
      const entry = { seq: seq++, object };
      byId.set(id, entry);
      const kind = object.object as string;
      const bucket = byKind.get(kind) ?? [];
      bucket.push(entry);
      byKind.set(kind, bucket);
      return object;
    },
    get: (id) => byId.get(id)?.object,
    require(kind, id, param) {
      const object = byId.get(id)?.object;
      if (!object || object.deleted === true) throw missing(kind, id, param);
      return object;
    },
    all: (kind) => newestFirst(kind).map((e) => e.object),
    page(kind, url, params, filter) {
      const limitText = str(params, 'limit');
      let limit = 10;
      if (limitText !== undefined) {
        if (!/^\d+$/.test(limitText))
          throw invalid(`Invalid integer: ${limitText}`, 'limit', 'parameter_invalid_integer');
        limit = Number(limitText);
        if (limit < 1)
          throw invalid('This value must be greater than or equal to 1.', 'limit', 'parameter_invalid_integer');
        if (limit > 100)
          throw invalid('This value must be less than or equal to 100.', 'limit', 'parameter_invalid_integer');
      }
      const after = str(params, 'starting_after');
      const before = str(params, 'ending_before');
      if (after && before)
        throw invalid('You may only specify one of these parameters: ending_before, starting_after.', 'ending_before');
      const rows = newestFirst(kind)
        .filter((e) => e.object.deleted !== true && (!filter || filter(e.object)))
        .map((e) => e);
      let data: Entry[];
      let hasMore: boolean;
      if (after || before) {
        const cursorId = (after ?? before) as string;
        const cursor = byId.get(cursorId);
        if (!cursor || cursor.object.object !== kind)
          throw missing(kind.replaceAll('_', ' '), cursorId, after ? 'starting_after' : 'ending_before');
        if (after) {
          const rest = rows.filter((e) => e.seq < cursor.seq);
          data = rest.slice(0, limit);
          hasMore = rest.length > limit;
        } else {
          const newer = rows.filter((e) => e.seq > cursor.seq);
          data = newer.slice(Math.max(0, newer.length - limit));
          hasMore = newer.length > limit;
        }
      } else {
        data = rows.slice(0, limit);
        hasMore = rows.length > limit;
      }
      return { object: 'list', data: data.map((e) => e.object), has_more: hasMore, url };
    },
  };
}

/** Reads Stripe's `created` filter: a number or `created[gt|gte|lt|lte]`. */
export function createdFilter(params: Params, field = 'created'): Filter | undefined {
  const value = params[field];
  if (value === undefined || value === '') return undefined;
  const num = (text: unknown, param: string): number => {
    if (typeof text !== 'string' || !/^\d+$/.test(text))
      throw invalid(`Invalid integer: ${String(text)}`, param, 'parameter_invalid_integer');
    return Number(text);
  };
  if (typeof value === 'string') {
    const exact = num(value, field);
    return (o) => o[field] === exact;
  }
  if (Array.isArray(value)) throw invalid(`Invalid ${field}`, field);
  const bounds: Array<(n: number) => boolean> = [];
  for (const [op, text] of Object.entries(value)) {
    const n = num(text, `${field}[${op}]`);
    if (op === 'gt') bounds.push((x) => x > n);
    else if (op === 'gte') bounds.push((x) => x >= n);
    else if (op === 'lt') bounds.push((x) => x < n);
    else if (op === 'lte') bounds.push((x) => x <= n);
    else throw invalid(`Received unknown parameter: ${field}[${op}]`, `${field}[${op}]`, 'parameter_unknown');
  }
  return (o) => bounds.every((b) => b(o[field] as number));
}

/** Combines filters; undefined entries are skipped. */
export function allOf(...filters: Array<Filter | undefined>): Filter {
  const active = filters.filter((f): f is Filter => f !== undefined);
  return (o) => active.every((f) => f(o));
}

/** Replaces ids with the objects they name, for `expand[]` paths (one level, `data.` prefixes for lists). */
export function expand(store: FakeStore, object: JsonObject, paths: readonly string[]): JsonObject {
  if (paths.length === 0) return object;
  const out: JsonObject = { ...object };
  for (const path of paths) {
    const [head, ...rest] = path.split('.');
    if (!head) continue;
    if (head === 'data' && out.object === 'list' && Array.isArray(out.data)) {
      out.data = out.data.map((item) => expand(store, item as JsonObject, [rest.join('.')]));
      continue;
    }
    const value: Json | undefined = out[head];
    if (typeof value === 'string') {
      const found = store.get(value);
      if (found) out[head] = rest.length ? expand(store, found, [rest.join('.')]) : found;
    } else if (value === undefined) {
      throw invalid(`This property cannot be expanded (${head}).`, 'expand');
    }
  }
  return out;
}
