/**
 * How one group-commit batch is written: duplicates within the batch are
 * folded onto their first copy (and share its fate: a 2xx only for a committed
 * row), the batch is one insert, and when the data of one event makes that
 * insert fail, the batch is halved until the bad events stand alone, one
 * statement at a time, so its neighbours are still stored.
 */

import { InboxError } from './errors';
import { isDataError, storeError } from './prepare';
import type { InboxDriver, InboxEventKey, NewInboxEvent } from './types';

/** Per event: `true` stored, `false` a duplicate of a committed row, or the error that event gets. */
export type BatchResult = boolean | InboxError;

const keyString = (k: InboxEventKey) => `${k.source}\u0000${k.id}`;

/**
 * Builds the write function group commit calls with each batch. `onStored`
 * receives the keys of newly committed rows.
 */
export function batchWriter(
  driver: InboxDriver,
  now: () => number,
  onStored: (keys: readonly InboxEventKey[]) => void,
): (events: NewInboxEvent[]) => Promise<BatchResult[]> {
  /** One insert; a result missing for an event must never read as "duplicate" (a 200 for a row not stored). */
  async function insert(events: NewInboxEvent[]): Promise<boolean[]> {
    const stored = await driver.insert(events, new Date(now()));
    if (!Array.isArray(stored) || stored.length !== events.length) {
      throw new InboxError(
        'ingest',
        'store_unavailable',
        `the inbox driver answered ${Array.isArray(stored) ? stored.length : 'no'} results for ${events.length} events`,
      );
    }
    return stored;
  }

  /** Inserts events; on a data error, splits them in two and writes each half, one after the other. */
  async function isolating(events: NewInboxEvent[], top: boolean): Promise<BatchResult[]> {
    try {
      return await insert(events);
    } catch (error) {
      // the whole batch failed for the store's sake: every waiter gets the store's error (503)
      if (!isDataError(error)) {
        if (top) throw error;
        const failed = storeError(error);
        return events.map(() => failed);
      }
      if (events.length === 1) return [storeError(error)];
      const half = Math.ceil(events.length / 2);
      const left = await isolating(events.slice(0, half), false);
      const right = await isolating(events.slice(half), false);
      return [...left, ...right];
    }
  }

  return async (events) => {
    const first = new Map<string, number>();
    const unique: NewInboxEvent[] = [];
    const slots = events.map((e) => {
      const k = keyString(e);
      const at = first.get(k);
      if (at !== undefined) return -1 - at; // a later copy: answered from the first copy's row
      first.set(k, unique.length);
      unique.push(e);
      return unique.length - 1;
    });
    const results = await isolating(unique, true);
    onStored(unique.filter((_, i) => results[i] === true));
    return slots.map((slot) => {
      const own = results[slot < 0 ? -1 - slot : slot];
      if (own === undefined) {
        return new InboxError('ingest', 'store_unavailable', 'the batch result is missing an event');
      }
      // a copy is a duplicate only once its first copy's row is committed; otherwise it shares the error
      return own instanceof InboxError ? own : slot < 0 ? false : own;
    });
  };
}
