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
   * An event not committed this many milliseconds after it was submitted
   * (waiting in the queue counts) fails with `store_unavailable`, so the
   * endpoint can answer 503 and the provider retries (a late commit is then
   * absorbed as a duplicate). The batch's connection stays taken until its
   * write settles: a hung store cannot gather more writes than `maxInFlight`.
   * @default 10000
   */
  timeoutMs?: number;
  /**
   * The most events waiting for a batch. A submission beyond it is refused at
   * once with `overloaded` (the endpoint answers 503 with `Retry-After`).
   * @default 10000
   */
  maxPending?: number;
  /**
   * The most bytes (serialized payload, raw body and headers) waiting for a
   * batch; beyond it, `overloaded`. An event arriving at an empty queue is
   * always taken, whatever its size.
   * @default 67108864 (64 MiB)
   */
  maxPendingBytes?: number;
}

/** Group-commit defaults, in one place. */
export const GROUP_COMMIT_DEFAULTS: Readonly<Required<GroupCommitOptions>> = Object.freeze({
  maxBatch: 500,
  lingerMs: 0,
  maxInFlight: 4,
  minParallelBatch: 16,
  timeoutMs: 10_000,
  maxPending: 10_000,
  maxPendingBytes: 64 * 1024 * 1024,
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
  check('maxPending', 1);
  check('maxPendingBytes', 1);
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

/** One submission: waiting in the queue, in a batch being written, or answered. */
interface Waiter<I, O> {
  item: I;
  bytes: number;
  state: 'queued' | 'writing' | 'answered';
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve(value: O): void;
  reject(error: unknown): void;
}

/** What the committer reports about each batch it starts writing. */
export interface BatchStart {
  /** Events in the batch. */
  size: number;
  /** Events still waiting once the batch was taken. */
  pending: number;
  /** Batches being written, this one included. */
  inFlight: number;
}

/** Gathers concurrent submissions into batches written by one call each. */
export interface GroupCommitter<I, O> {
  /**
   * Queues one item of `bytes` bytes; resolves with its own result once the
   * batch holding it has committed. Rejects with `overloaded` at once when the
   * queue is full, and with `store_unavailable` when `timeoutMs` passes first.
   */
  submit(item: I, bytes: number): Promise<O>;
  /** Events waiting for a batch. */
  readonly pending: number;
  /**
   * Stops accepting items and waits until every submission has been answered
   * (committed, failed, or timed out). A write that never settles does not
   * hold it beyond `timeoutMs`.
   */
  close(): Promise<void>;
}

/**
 * Creates a group committer around `write`, which stores a batch and resolves
 * with one result per item, in order. Every submitter of a batch gets its own
 * result only after `write` resolved, and the batch's error if it rejected.
 *
 * Admission is bounded: at most `maxPending` items (and `maxPendingBytes`)
 * wait, at most `maxInFlight` writes run, and a write keeps its slot until it
 * settles, even after its waiters timed out. Each waiter's deadline runs from
 * its submission.
 */
export function groupCommitter<I, O>(
  write: (items: I[]) => Promise<O[]>,
  options: Required<GroupCommitOptions>,
  onBatch?: (batch: BatchStart) => void,
): GroupCommitter<I, O> {
  /** Waiters in submission order; answered ones (timed out while queued) are skipped when taken. */
  let queue: Waiter<I, O>[] = [];
  let pendingCount = 0;
  let pendingBytes = 0;
  /** Waiters taken into batches and not yet answered. */
  let writing = 0;
  let inFlight = 0;
  let lingerTimer: ReturnType<typeof setTimeout> | undefined;
  let lingerDue = false;
  let scheduled = false;
  let closed = false;
  let idle: (() => void) | undefined;

  function answer(w: Waiter<I, O>, settle: () => void): void {
    if (w.state === 'answered') return;
    if (w.state === 'queued') {
      pendingCount--;
      pendingBytes -= w.bytes;
    } else {
      writing--;
    }
    w.state = 'answered';
    clearTimeout(w.timer);
    settle();
    if (idle !== undefined && pendingCount === 0 && writing === 0) idle();
  }

  function expire(w: Waiter<I, O>): void {
    const error = new InboxError(
      'groupCommit',
      'store_unavailable',
      `the inbox store did not commit within ${options.timeoutMs} ms of the submission`,
    );
    answer(w, () => w.reject(error));
  }

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
    while (inFlight < options.maxInFlight && pendingCount > 0) {
      // overlap batches only when there is enough waiting to make each one worth a commit
      if (inFlight > 0 && pendingCount < options.minParallelBatch && !closed) return;
      if (options.lingerMs > 0 && pendingCount < options.maxBatch && !closed && !lingerDue) {
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

  /** Takes up to `maxBatch` queued waiters, oldest first. */
  function take(): Waiter<I, O>[] {
    const batch: Waiter<I, O>[] = [];
    let i = 0;
    while (i < queue.length && batch.length < options.maxBatch) {
      const w = queue[i++] as Waiter<I, O>;
      if (w.state !== 'queued') continue;
      w.state = 'writing';
      pendingCount--;
      pendingBytes -= w.bytes;
      writing++;
      batch.push(w);
    }
    queue = i === queue.length ? [] : queue.slice(i);
    return batch;
  }

  function flushOne(): void {
    lingerDue = false;
    if (lingerTimer !== undefined) {
      clearTimeout(lingerTimer);
      lingerTimer = undefined;
    }
    const batch = take();
    if (batch.length === 0) return;
    inFlight++;
    try {
      onBatch?.({ size: batch.length, pending: pendingCount, inFlight });
    } catch {
      // an observer's failure must not fail the write
    }
    // the slot is held until the write settles, whatever happened to its waiters meanwhile
    void run(batch).finally(() => {
      inFlight--;
      if (pendingCount > 0) schedule();
    });
  }

  async function run(batch: Waiter<I, O>[]): Promise<void> {
    try {
      const results = await write(batch.map((w) => w.item));
      batch.forEach((w, i) => {
        answer(w, () => w.resolve(results[i] as O));
      });
    } catch (error) {
      for (const w of batch) answer(w, () => w.reject(error));
    }
  }

  return {
    submit(item: I, bytes: number): Promise<O> {
      if (closed) {
        return Promise.reject(new InboxError('groupCommit', 'stopped', 'the inbox was closed'));
      }
      if (
        pendingCount > 0 &&
        (pendingCount + 1 > options.maxPending || pendingBytes + bytes > options.maxPendingBytes)
      ) {
        return Promise.reject(
          new InboxError(
            'groupCommit',
            'overloaded',
            `the write queue is full (${pendingCount} events, ${pendingBytes} bytes waiting)`,
          ),
        );
      }
      return new Promise<O>((resolve, reject) => {
        const w: Waiter<I, O> = { item, bytes, state: 'queued', timer: undefined, resolve, reject };
        w.timer = setTimeout(() => expire(w), options.timeoutMs);
        queue.push(w);
        pendingCount++;
        pendingBytes += bytes;
        schedule();
      });
    },
    get pending() {
      return pendingCount;
    },
    async close(): Promise<void> {
      closed = true;
      if (lingerTimer !== undefined) {
        clearTimeout(lingerTimer);
        lingerTimer = undefined;
      }
      pump();
      if (pendingCount === 0 && writing === 0) return;
      await new Promise<void>((resolve) => {
        idle = resolve;
      });
    },
  };
}
