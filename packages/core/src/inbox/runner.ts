/**
 * The two inner layers of an attempt: the idempotency record of the run
 * (`idempotent()`'s steps, keyed `inbox:<source>:<id>`) and the handler under
 * a time limit.
 *
 * Runs one handler attempt under a time limit: past `timeoutMs` the attempt
 * fails with `handler_timeout` and `context.signal` is aborted. The run itself
 * cannot be killed from outside; the signal asks it to stop.
 */
import { type IdempotencySteps, idempotencySteps } from '../idempotency/idempotent';
import type { IdempotencyStore, TransactionalIdempotencyStore } from '../idempotency/store';
import type { SqlExecutor } from '../stores/sql';
import { invalidWorkerOption } from './backoff';
import { InboxError } from './errors';
import type { InboxEventHandler, InboxHandlerContext } from './handlers';
import type { Inbox } from './inbox';
import type { ClaimedInboxEvent, InboxDriver, InboxEventKey } from './types';

/** Runs `handler` for `event`, failing it with `handler_timeout` once `timeoutMs` passed. */
export async function runWithTimeout(
  handler: InboxEventHandler,
  event: ClaimedInboxEvent,
  context: Omit<InboxHandlerContext, 'signal'>,
  timeoutMs: number | false,
): Promise<void> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const run = (async () => {
      await handler(event, { ...context, signal: controller.signal });
    })();
    if (timeoutMs === false) return await run;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new InboxError(
          'worker',
          'handler_timeout',
          `the handler for ${event.source}/${event.id} did not finish within ${timeoutMs} ms`,
        );
        controller.abort(error);
        reject(error);
      }, timeoutMs);
      (timer as { unref?: () => void }).unref?.();
    });
    await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** How handler runs are recorded through `idempotent()`. */
export interface InboxIdempotencyOptions {
  /**
   * The store. @default the inbox's own (`inbox.idempotencyStore`)
   */
  store?: IdempotencyStore | TransactionalIdempotencyStore;
  /**
   * Run each handler in the store's transaction (`context.tx`): its writes and
   * the run's record commit together. Needs the SQL store. While the handler
   * runs, the heartbeat extends the leases through that transaction (with the
   * inbox's own store) so it never needs a second connection; on PGlite the
   * transaction holds the only connection, so query only through
   * `context.tx` inside the handler. A store of your own must then be on a
   * database other than the inbox's, or be `inbox.idempotencyStore`.
   * @default false
   */
  transactional?: boolean;
}

/** The idempotency layer of a worker: the steps of `idempotent()` keyed `inbox:<source>:<id>`. */
export interface Recorder {
  steps: IdempotencySteps<ClaimedInboxEvent>;
  transactional: boolean;
  /** The inbox driver to extend leases through inside the run's transaction. */
  driverIn(tx: SqlExecutor): InboxDriver;
}

/**
 * The idempotency key of an event's runs: `inbox:<source>:<id>`, and
 * `:replay<n>` after its n-th forced replay, which supersedes the finished
 * record of the earlier run instead of replaying it.
 */
export const runKey = (event: InboxEventKey & { replays?: number }): string =>
  `inbox:${event.source}:${event.id}${event.replays ? `:replay${event.replays}` : ''}`;

/** Builds the idempotency layer from the worker's option; `undefined` runs handlers directly. */
export function recorder(
  option: InboxIdempotencyOptions | false | undefined,
  inbox: Inbox,
  leaseMs: number,
): Recorder | undefined {
  if (option === false) return undefined;
  if (option !== undefined && (typeof option !== 'object' || option === null)) {
    throw invalidWorkerOption('idempotency must be false or { store?, transactional? }');
  }
  const store = option?.store ?? inbox.idempotencyStore;
  const transactional = option?.transactional === true;
  if (store === undefined) {
    // an inbox from createInbox() without a store: plain runs go direct, transactional ones cannot
    if (!transactional) return undefined;
    throw invalidWorkerOption('idempotency.transactional needs a store: pass idempotency.store or use sqlInbox');
  }
  if (transactional && typeof (store as Partial<TransactionalIdempotencyStore>).transaction !== 'function') {
    throw invalidWorkerOption('idempotency.transactional needs a store with transaction() (the SQL store)');
  }
  const sameDatabase = store === inbox.idempotencyStore && typeof inbox.driver.bind === 'function';
  const steps = transactional
    ? idempotencySteps({
        store: store as TransactionalIdempotencyStore,
        transactional: true,
        key: runKey,
        lease: leaseMs,
        now: inbox.now,
      })
    : idempotencySteps({ store, key: runKey, lease: leaseMs, now: inbox.now });
  return {
    steps,
    transactional,
    driverIn: (tx) => (sameDatabase && inbox.driver.bind ? inbox.driver.bind(tx) : inbox.driver),
  };
}
