import { InboxError } from './errors';

/** Options for group commit: how concurrent writes are gathered into shared statements. */
export interface GroupCommitOptions {
  /**
   * The most events one statement writes.
   * @default 500
   */
  maxBatch?: number;
  /**
   * How long a partial batch waits for more events, in milliseconds. `0` writes
   * as soon as a writer is free: batches then form on their own while earlier
   * writes are in flight, which is what keeps latency low.
   * @default 0
   */
  lingerMs?: number;
  /**
   * Batches written at the same time, each on its own connection. One is right
   * for PGlite (a single connection); a few let Postgres overlap commits.
   * @default 4
   */
  maxInFlight?: number;
  /**
   * While a batch is in flight, a further one starts only once this many
   * events wait: concurrent batches then stay large (few commits) instead of
   * splitting the load into many small ones. A batch with none in flight
   * always starts at once, so a quiet endpoint pays no wait.
   * @default 16
   */
  minParallelBatch?: number;
  /**
   * A batch that has not committed after this many milliseconds fails its
   * events with `store_unavailable`, so the endpoint can answer 503 and the
   * provider retries (a late commit is then absorbed as a duplicate).
   * @default 10000
   */
  timeoutMs?: number;
}

/** Group-commit defaults, in one place. */
export const GROUP_COMMIT_DEFAULTS: Readonly<Required<GroupCommitOptions>> = Object.freeze({
  maxBatch: 500,
  lingerMs: 0,
  maxInFlight: 4,
  minParallelBatch: 16,
  timeoutMs: 10_000,
});

/** Validates group-commit options and fills in the defaults (a new object; the input is untouched). */
export function normalizeGroupCommit(options: GroupCommitOptions = {}): Required<GroupCommitOptions> {
  const merged = { ...GROUP_COMMIT_DEFAULTS, ...definedOnly(options) };
  const check = (name: keyof GroupCommitOptions, min: number) => {
    const value = merged[name];
    if (!Number.isFinite(value) || value < min || (name !== 'lingerMs' && !Number.isInteger(value))) {
      throw new InboxError(
        'groupCommit',
        'invalid_options',
        `groupCommit.${name} must be ${name === 'lingerMs' ? 'a number' : 'an integer'} >= ${min}, got ${String(value)}`,
      );
    }
  };
  check('maxBatch', 1);
  check('lingerMs', 0);
  check('maxInFlight', 1);
  check('minParallelBatch', 1);
  check('timeoutMs', 1);
  return merged;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Runs `fn` after the pending I/O callbacks: `setImmediate` on Node, Deno and Bun, a timer elsewhere. */
const afterIo: (fn: () => void) => void =
  typeof globalThis.setImmediate === 'function'
    ? (fn) => {
        globalThis.setImmediate(fn);
      }
    : (fn) => {
        setTimeout(fn, 0);
      };

interface Waiter<I, O> {
  item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

/** Gathers concurrent submissions into batches written by one call each. */
export interface GroupCommitter<I, O> {
  /** Queues one item; resolves with its own result once the batch holding it has committed. */
  submit(item: I): Promise<O>;
  /**
   * Stops accepting items and waits for every batch already taken to commit or
   * time out (`timeoutMs`).
   */
  close(): Promise<void>;
}

/**
 * Creates a group committer around `write`, which stores a batch and resolves
 * with one result per item, in order. Every submitter of a batch gets its own
 * result only after `write` resolved, and the batch's error if it rejected.
 */
export function groupCommitter<I, O>(
  write: (items: I[]) => Promise<O[]>,
  options: Required<GroupCommitOptions>,
): GroupCommitter<I, O> {
  const pending: Waiter<I, O>[] = [];
  const running = new Set<Promise<void>>();
  let inFlight = 0;
  let lingerTimer: ReturnType<typeof setTimeout> | undefined;
  let lingerDue = false;
  let scheduled = false;
  let closed = false;

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    // After the I/O callbacks of this event-loop turn: every request read in the turn joins the
    // batch. A microtask would flush after the first one, and with a store that answers without
    // real I/O (PGlite) every request would then commit alone.
    afterIo(() => {
      scheduled = false;
      pump();
    });
  }

  function pump(): void {
    while (inFlight < options.maxInFlight && pending.length > 0) {
      // overlap batches only when there is enough waiting to make each one worth a commit
      if (inFlight > 0 && pending.length < options.minParallelBatch && !closed) return;
      if (options.lingerMs > 0 && pending.length < options.maxBatch && !closed && !lingerDue) {
        lingerTimer ??= setTimeout(() => {
          lingerTimer = undefined;
          lingerDue = true;
          pump();
        }, options.lingerMs);
        return;
      }
      flushOne();
    }
  }

  function flushOne(): void {
    if (pending.length === 0) return;
    lingerDue = false;
    if (lingerTimer !== undefined) {
      clearTimeout(lingerTimer);
      lingerTimer = undefined;
    }
    const batch = pending.splice(0, options.maxBatch);
    inFlight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      inFlight--;
      if (pending.length > 0) schedule();
    };
    let expire: () => void = () => {};
    const expired = new Promise<void>((resolve) => {
      expire = resolve;
    });
    const timer = setTimeout(() => {
      const error = new InboxError(
        'groupCommit',
        'store_unavailable',
        `the inbox store did not commit within ${options.timeoutMs} ms`,
      );
      for (const w of batch) w.reject(error);
      release();
      expire();
    }, options.timeoutMs);
    const done = (async () => {
      try {
        const results = await write(batch.map((w) => w.item));
        batch.forEach((w, i) => {
          w.resolve(results[i] as O);
        });
      } catch (error) {
        for (const w of batch) w.reject(error);
      } finally {
        clearTimeout(timer);
        release();
      }
    })();
    // close() waits for a batch until it commits or times out (its waiters are answered either
    // way): a store that never answers must not hold the shutdown forever
    const settled = Promise.race([done, expired]);
    running.add(settled);
    void settled.finally(() => running.delete(settled));
  }

  return {
    submit(item: I): Promise<O> {
      if (closed) {
        return Promise.reject(new InboxError('groupCommit', 'stopped', 'the inbox was closed'));
      }
      return new Promise<O>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        schedule();
      });
    },
    async close(): Promise<void> {
      closed = true;
      if (lingerTimer !== undefined) {
        clearTimeout(lingerTimer);
        lingerTimer = undefined;
      }
      while (pending.length > 0 || running.size > 0) {
        pump();
        await Promise.allSettled([...running]);
      }
    },
  };
}
