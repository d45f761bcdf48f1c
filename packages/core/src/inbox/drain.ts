/**
 * Processing without a resident worker, for serverless hosts: a scheduled
 * function, a cron or `waitUntil` calls `drainInbox`, which processes the
 * source's due events until none is due or its time budget ends.
 */
import type { InboxEventMap, InboxSchemas } from './handlers';
import type { InboxQueue } from './queue';
import {
  createInboxWorker,
  type DrainResult,
  type InboxWorkerOptions,
  type SchemaInboxWorkerOptions,
  type TransactionalInboxWorkerOptions,
} from './worker';

/** Options for {@link drainInbox}: the worker's, without the queue and the sweep, plus a time budget. */
export type DrainInboxOptions<W> = Omit<W, 'queue' | 'sweepIntervalMs'> & {
  /**
   * Stop claiming new events after this many milliseconds (running ones still
   * finish, each within `handlerTimeoutMs`): keep it below the host's limit
   * minus `handlerTimeoutMs`.
   * @default no limit
   */
  budgetMs?: number;
};

/** A queue that carries nothing: a drain finds its events by claiming due rows. */
const NO_QUEUE: InboxQueue = {
  send: async () => {},
  work: async () => ({ stop: async () => {} }),
};

/**
 * Processes the source's due events, at most `concurrency` at a time, until
 * none is due or `budgetMs` ran out, then returns what it did. Claims use the
 * same leases as a worker, so any number of drains (and workers) may run at
 * once: each event runs in one of them. Retries scheduled for later stay for
 * a later drain.
 *
 * @example
 * ```ts
 * // a scheduled function, every minute
 * export default async () => {
 *   await drainInbox({ inbox, source: 'stripe', on: handlers, budgetMs: 50_000 });
 * };
 * ```
 */
export async function drainInbox<M extends InboxEventMap = InboxEventMap>(
  options: DrainInboxOptions<TransactionalInboxWorkerOptions<M>>,
): Promise<DrainResult>;
export async function drainInbox<S extends InboxSchemas>(
  options: DrainInboxOptions<SchemaInboxWorkerOptions<S>>,
): Promise<DrainResult>;
export async function drainInbox<M extends InboxEventMap = InboxEventMap>(
  options: DrainInboxOptions<InboxWorkerOptions<M>>,
): Promise<DrainResult>;
export async function drainInbox(options: DrainInboxOptions<InboxWorkerOptions>): Promise<DrainResult> {
  const { budgetMs, ...workerOptions } = options ?? ({} as DrainInboxOptions<InboxWorkerOptions>);
  const worker = createInboxWorker({ ...workerOptions, queue: NO_QUEUE, sweepIntervalMs: false });
  try {
    return await worker.drain(budgetMs === undefined ? {} : { budgetMs });
  } finally {
    await worker.stop();
  }
}
