import { wellFormed } from '../internal/encoding';
import { canonicalizer, sha256Hex, sha256HexSync } from './canonical';
import { errorMessage } from './table-store';

/**
 * Record preparation: reads each record's id, content hash (canonical JSON,
 * volatile fields left out, decision 0404) and, when the table declares a
 * cursor field, the largest cursor value of a batch (decision 0408).
 */

/** A record ready to store. */
export interface Prepared<T> {
  id: string;
  hash: string;
  /**
   * The record; `undefined` once serialized ahead when the table does not
   * keep records (no `versionField` reads them later): let go early, a
   * record dies young instead of being promoted while its batch is stored.
   */
  record: T | undefined;
  /** The record's JSON, when serialized ahead (first loads send every record). */
  json?: string;
}

/** Prepared records of one batch. */
export interface PreparedRecords<T> {
  items: Prepared<T>[];
  /** Records that could not be stored. */
  failed: number;
  /** Ids of failed records that had one: still present at the provider, never deleted for it. */
  failedIds: string[];
  /** The largest cursor value of the records, in ms since the epoch, or `null`. */
  highWater: number | null;
}

/** Reads a record's cursor value (see `SyncTableOptions.cursorField`). */
export type CursorOf<T> = (record: T) => unknown;

/**
 * How long preparing may hold the event loop before it yields, in ms. The
 * batch being stored meanwhile waits that long for each of its replies, so
 * the slice is kept short (decision 1000).
 */
export const SLICE_MS = 0.5;

/** Records between two looks at the clock. */
const CHECK_EVERY = 16;

const now: () => number = () => performance.now();

const schedule: (fn: () => void) => void =
  (globalThis as { setImmediate?: (fn: () => void) => void }).setImmediate ?? ((fn) => setTimeout(fn, 0));

/** Resolves after pending I/O callbacks ran (a macrotask, not a microtask). */
export const yieldToIo = (): Promise<void> => new Promise((resolve) => schedule(resolve));

const defaultIdOf = (record: unknown): unknown => (record as { id?: unknown } | null | undefined)?.id;

/** A timestamp without an offset (Pipedrive's `2024-05-01 12:30:00`): read as UTC. */
const NO_OFFSET = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/**
 * A cursor value as ms since the epoch: a `Date`, an ISO 8601 string (one
 * without an offset is UTC), or a number of seconds since the epoch (Unix
 * time, Stripe's `created`). Anything else, or an invalid date, is `null`.
 */
export function cursorTime(value: unknown): number | null {
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'number') ms = value * 1000;
  else if (typeof value === 'string') ms = Date.parse(NO_OFFSET.test(value) ? `${value.replace(' ', 'T')}Z` : value);
  else return null;
  return Number.isFinite(ms) ? ms : null;
}

/** Reads the value at a dotted path (`update_time`, `meta.updated_at`). */
export function pathReader(path: string): (record: unknown) => unknown {
  const parts = path.split('.');
  return (record) => {
    let value: unknown = record;
    for (const part of parts) {
      if (value === null || typeof value !== 'object') return undefined;
      value = (value as Record<string, unknown>)[part];
    }
    return value;
  };
}

/** What a preparer needs from the table's options. */
export interface PreparerOptions<T> {
  volatileFields: readonly string[];
  idOf: ((record: T) => unknown) | undefined;
  cursorOf: CursorOf<T> | undefined;
  /** Keep each record after serializing it (a `versionField` reads it when the batch is stored). */
  keepRecords?: boolean;
}

/**
 * Writes a record's stored JSON from its canonical text (the volatile fields
 * left out) by appending its top-level volatile fields: `jsonb` keeps no key
 * order, so the stored value is the one `JSON.stringify` would give, without
 * serializing the record a second time. `undefined` when the table declares a nested
 * volatile path (the canonical text lacks a member inside an object), and
 * for a record with its own `toJSON`: such records are serialized whole.
 * Throws like `JSON.stringify` for a volatile value JSON cannot represent.
 */
export function storedJsonWriter(
  volatileFields: readonly string[],
): ((text: string, record: object) => string | undefined) | undefined {
  if (volatileFields.some((path) => path.includes('.'))) return undefined;
  const keys = [...new Set(volatileFields)];
  const names = keys.map((key) => `${JSON.stringify(key)}:`);
  const enumerable = Object.prototype.propertyIsEnumerable;
  return (text, record) => {
    if (typeof (record as { toJSON?: unknown }).toJSON === 'function') return undefined;
    let tail = '';
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      if (!enumerable.call(record, key)) continue;
      const value = JSON.stringify((record as Record<string, unknown>)[key]) as string | undefined;
      if (value === undefined) continue;
      tail += `${tail === '' ? '' : ','}${names[i]}${value}`;
    }
    if (tail === '') return text;
    return text === '{}' ? `{${tail}}` : `${text.slice(0, -1)},${tail}}`;
  };
}

/** A table's record preparer: canonical writer, id reader and cursor reader bound once. */
export function recordPreparer<T>(options: PreparerOptions<T>) {
  const canonical = canonicalizer(options.volatileFields);
  const storedJson = storedJsonWriter(options.volatileFields);
  const idOf = options.idOf ?? defaultIdOf;
  const cursorOf = options.cursorOf;
  const keepRecords = options.keepRecords ?? false;

  /**
   * Reads ids and hashes of records; deduplicates ids (the last wins). Hashes
   * as it goes where the runtime hashes synchronously (node:crypto), else per
   * batch (Web Crypto). With `serialize` (a first load, which sends every
   * record), also writes each record's stored JSON from its canonical text;
   * otherwise serializing waits until a record must be sent.
   */
  return async function prepare(
    records: readonly T[],
    onInvalid: ((record: T, reason: string) => void) | undefined,
    serialize = false,
  ): Promise<PreparedRecords<T>> {
    const items: (Prepared<T> | undefined)[] = [];
    // position in `items` of each id; a repeated id empties its earlier position
    const at = new Map<string, number>();
    // canonical texts waiting for an asynchronous digest, by position in `items`
    const texts: string[] = [];
    let failed = 0;
    const failedIds: string[] = [];
    let highWater: number | null = null;
    let done = 0;
    let sliceStart = now();
    for (const record of records) {
      // let the batch being stored take its next round trip while this one is hashed
      if (++done % CHECK_EVERY === 0 && now() - sliceStart >= SLICE_MS) {
        await yieldToIo();
        sliceStart = now();
      }
      let reason: string | undefined;
      let id: unknown;
      try {
        id = idOf(record);
      } catch (error) {
        reason = `idOf threw: ${errorMessage(error)}`;
      }
      if (reason === undefined) {
        if (typeof id === 'number' && Number.isFinite(id)) id = String(id);
        if (typeof id !== 'string' || id.length === 0) reason = 'the record has no string or finite number id';
        // the id as stored (a lone surrogate reads back as U+FFFD): the hash compare matches the ids it
        // returns against these, and a record whose id did not match would count as unchanged, unstored
        else id = wellFormed(id);
      }
      if (reason === undefined && (record === null || typeof record !== 'object' || Array.isArray(record))) {
        reason = 'the record is not a JSON object';
      }
      if (reason === undefined) {
        let text: string | undefined;
        try {
          text = canonical(record);
        } catch (error) {
          reason = `the record is not JSON: ${errorMessage(error)}`;
          failedIds.push(id as string);
        }
        if (text !== undefined) {
          const earlier = at.get(id as string);
          if (earlier !== undefined) items[earlier] = undefined;
          at.set(id as string, items.length);
          const item: Prepared<T> = { id: id as string, record, hash: '' };
          if (sha256HexSync) item.hash = sha256HexSync(text);
          else texts[items.length] = text;
          if (serialize) {
            try {
              item.json = storedJson?.(text, record as object) ?? JSON.stringify(record);
              if (!keepRecords) item.record = undefined;
            } catch {
              // left for the store step, which counts it as failed
            }
          }
          items.push(item);
          if (cursorOf) {
            const time = cursorTime(cursorOf(record));
            if (time !== null && (highWater === null || time > highWater)) highWater = time;
          }
        }
      }
      if (reason !== undefined) {
        failed++;
        onInvalid?.(record, reason);
      }
    }
    if (!sha256HexSync) {
      const positions = items.flatMap((item, i) => (item ? [i] : []));
      const hashes = await sha256Hex(positions.map((i) => texts[i] as string));
      positions.forEach((i, k) => {
        (items[i] as Prepared<T>).hash = hashes[k] as string;
      });
    }
    return { items: items.filter((item) => item !== undefined), failed, failedIds, highWater };
  };
}
