/**
 * The waiting side of a limiter, shared by the local and the Redis one: a
 * call that cannot start at once waits in its key's heap; an aborted one
 * leaves at once and rejects with `aborted`; one whose own `maxWait` passes
 * leaves and rejects with `wait_too_long`; `close` rejects every one left.
 * @internal
 */
import type { ResilienceEventHandler, ThrottleEvent } from '../types';
import { abortedError, RateLimitError, waitTooLongError } from './errors';
import type { HeapEntry, WaiterHeap } from './waiter-heap';

/** A call waiting for its key's budget. */
export interface Waiter extends HeapEntry {
  readonly fn: (signal?: AbortSignal) => Promise<unknown>;
  readonly weight: number;
  readonly signal: AbortSignal | undefined;
  /** When the call was queued (epoch ms). */
  readonly enqueuedAt: number;
  /** The call's own bound on its wait (`ScheduleOptions.maxWait`), Infinity when it has none. */
  readonly maxWait: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  /** The abort listener, while the waiter is queued and has a signal. */
  onAbort: (() => void) | undefined;
  /** The timer of the call's `maxWait`, while it is queued and has one. */
  deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * True while a shared store decides on this waiter (a round trip in
   * flight): a `maxWait` passing then waits for the answer, since the round
   * trip is not waiting for the budget.
   */
  busy: boolean;
  /** Its `maxWait` passed while `busy`: if the answer is "wait", it rejects. */
  pastDeadline: boolean;
}

/** What a limiter fills in for a new waiter; the queue adds the promise's settlers, the abort listener and the deadline. */
export type WaiterFields<W extends Waiter> = Omit<
  W,
  'index' | 'resolve' | 'reject' | 'onAbort' | 'deadlineTimer' | 'busy' | 'pastDeadline'
>;

/**
 * Queues a call in `queue` and returns the promise the caller waits on: the
 * limiter settles it through the waiter's `resolve` / `reject` once it takes
 * the waiter out with {@link takeWaiter}. `afterPush` runs once the waiter is
 * queued (to start or schedule the head). When the call's signal aborts while
 * it waits, it leaves the queue, rejects with `aborted`, and `afterAbort`
 * runs (the head may have changed); when its `maxWait` passes, the same with
 * `wait_too_long` (unless a store round trip for it is in flight: see
 * `busy`). A full queue rejects with `queue_full` and runs neither.
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
      deadlineTimer: undefined,
      busy: false,
      pastDeadline: false,
    } as unknown as W;
    const signal = waiter.signal;
    if (signal !== undefined) {
      waiter.onAbort = () => {
        waiter.onAbort = undefined;
        if (queue.remove(waiter)) {
          detach(waiter);
          reject(abortedError(api, key, signal));
          afterAbort();
        }
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    if (waiter.maxWait !== Number.POSITIVE_INFINITY) {
      waiter.deadlineTimer = setTimeout(
        () => {
          waiter.deadlineTimer = undefined;
          if (waiter.busy) waiter.pastDeadline = true;
          else if (queue.remove(waiter)) {
            detach(waiter);
            reject(waitTooLongError(api, key, Date.now() - waiter.enqueuedAt, waiter.maxWait));
            afterAbort();
          }
        },
        Math.max(0, waiter.enqueuedAt + waiter.maxWait - Date.now()),
      );
    }
    queue.push(waiter);
    afterPush();
  });
}

/** Takes `waiter` out of `queue` (when still there) and stops listening to its signal and deadline; returns whether it was queued. */
export function takeWaiter<W extends Waiter>(queue: WaiterHeap<W>, waiter: W): boolean {
  const queued = queue.remove(waiter);
  detach(waiter);
  return queued;
}

/** Stops listening to a waiter's signal and clears its deadline: it started, or failed, and neither concerns the queue any more. */
function detach(waiter: Waiter): void {
  if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
  waiter.onAbort = undefined;
  if (waiter.deadlineTimer !== undefined) clearTimeout(waiter.deadlineTimer);
  waiter.deadlineTimer = undefined;
}

/** Rejects every waiter of `queue` with `closed` (the limiter was closed). */
export function rejectWaiting<W extends Waiter>(api: string, key: string, queue: WaiterHeap<W>): void {
  for (const waiter of queue.drain()) {
    detach(waiter);
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
