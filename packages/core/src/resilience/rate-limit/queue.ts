/**
 * The waiting side of a limiter, shared by the local and the Redis one: a
 * call that cannot start at once waits in its key's heap; an aborted one
 * leaves at once and rejects with `aborted`; `close` rejects every one left.
 * @internal
 */
import type { ResilienceEventHandler, ThrottleEvent } from '../types';
import { abortedError, RateLimitError } from './errors';
import type { HeapEntry, WaiterHeap } from './waiter-heap';

/** A call waiting for its key's budget. */
export interface Waiter extends HeapEntry {
  readonly fn: (signal?: AbortSignal) => Promise<unknown>;
  readonly weight: number;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  /** The abort listener, while the waiter is queued and has a signal. */
  onAbort: (() => void) | undefined;
}

/** What a limiter fills in for a new waiter; the queue adds the promise's settlers and the abort listener. */
export type WaiterFields<W extends Waiter> = Omit<W, 'index' | 'resolve' | 'reject' | 'onAbort'>;

/**
 * Queues a call in `queue` and returns the promise the caller waits on: the
 * limiter settles it through the waiter's `resolve` / `reject` once it takes
 * the waiter out with {@link takeWaiter}. `afterPush` runs once the waiter is
 * queued (to start or schedule the head). When the call's signal aborts while
 * it waits, it leaves the queue, rejects with `aborted`, and `afterAbort`
 * runs (the head may have changed). A full queue rejects with `queue_full`
 * and runs neither.
 */
export function queueCall<T, W extends Waiter>(
  api: string,
  key: string,
  queue: WaiterHeap<W>,
  maxQueued: number,
  fields: WaiterFields<W>,
  afterPush: () => void,
  afterAbort: () => void,
): Promise<T> {
  if (queue.size >= maxQueued) {
    return Promise.reject(
      new RateLimitError(api, 'queue_full', `the queue of key "${key}" is full (${maxQueued} calls wait)`, { key }),
    );
  }
  return new Promise<T>((resolve, reject) => {
    const waiter = {
      ...fields,
      index: -1,
      resolve: resolve as (value: unknown) => void,
      reject,
      onAbort: undefined,
    } as unknown as W;
    const signal = waiter.signal;
    if (signal !== undefined) {
      waiter.onAbort = () => {
        waiter.onAbort = undefined;
        if (queue.remove(waiter)) {
          reject(abortedError(api, key, signal));
          afterAbort();
        }
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    queue.push(waiter);
    afterPush();
  });
}

/** Takes `waiter` out of `queue` (when still there) and stops listening to its signal; returns whether it was queued. */
export function takeWaiter<W extends Waiter>(queue: WaiterHeap<W>, waiter: W): boolean {
  const queued = queue.remove(waiter);
  releaseSignal(waiter);
  return queued;
}

/** Stops listening to a waiter's signal: it started, or failed, and an abort no longer concerns the queue. */
function releaseSignal(waiter: Waiter): void {
  if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
  waiter.onAbort = undefined;
}

/** Rejects every waiter of `queue` with `closed` (the limiter was closed). */
export function rejectWaiting<W extends Waiter>(api: string, key: string, queue: WaiterHeap<W>): void {
  for (const waiter of queue.drain()) {
    releaseSignal(waiter);
    waiter.reject(new RateLimitError(api, 'closed', 'the limiter was closed while the call waited', { key }));
  }
}

/**
 * Reports that a call of `key` waits, or that the key paused, to `emit` (a
 * handler made safe with `emitter`, which swallows what it throws).
 */
export function emitThrottle(
  emit: ResilienceEventHandler | undefined,
  key: string,
  reason: ThrottleEvent['reason'],
  waitMs: number,
): void {
  emit?.({ type: 'throttle', at: Date.now(), key, reason, waitMs: Math.max(0, waitMs) });
}
