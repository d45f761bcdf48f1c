import { isIdempotencyInProgressError } from '../idempotency/errors';
import { type IdempotencyContext, idempotent } from '../idempotency/idempotent';
import type { IdempotencyStore, TransactionalIdempotencyStore } from '../idempotency/store';
import type { SqlExecutor } from '../stores/sql';
import { InboxError } from './errors';
import { assertSource, type Inbox } from './inbox';
import { type InboxJob, type InboxQueue, inProcessQueue, type QueueSubscription } from './queue';
import type { ClaimedInboxEvent, InboxEvent, InboxEventKey } from './types';

/** What a handler receives besides the event. */
export interface InboxHandlerContext {
  /** This attempt's number, from 1. */
  attempt: number;
  /** The idempotency key the run is recorded under (`inbox:<source>:<id>`). */
  key: string;
  /** True when an earlier run's lease expired mid-way, so the handler may have started before. */
  takeover: boolean;
  /** In transactional mode, the transaction that also records the run: write through it to commit together. */
  tx?: SqlExecutor;
  /**
   * Aborted when the attempt times out (`handlerTimeoutMs`): pass it to slow
   * calls so the abandoned attempt stops working.
   */
  signal: AbortSignal;
}

/** Handles one event type. Throwing (or rejecting) fails the attempt: it is retried with backoff. */
export type InboxEventHandler<P = unknown> = (event: InboxEvent<P>, context: InboxHandlerContext) => unknown;

/**
 * Handlers by event type. `'*'` catches every type without a handler of its
 * own; an event with neither is marked processed without running anything.
 */
export type InboxHandlers = Readonly<Record<string, InboxEventHandler>>;

/** Retry policy for failed attempts: exponential backoff with jitter, then dead-lettering. */
export interface InboxRetryOptions {
  /**
   * Attempts before an event is dead-lettered (the first attempt counts).
   * @default 8
   */
  maxAttempts?: number;
  /**
   * Delay before the second attempt, in milliseconds.
   * @default 1000
   */
  initialDelayMs?: number;
  /**
   * Each further delay is the previous one times this.
   * @default 2
   */
  factor?: number;
  /**
   * The longest delay between attempts, in milliseconds.
   * @default 3_600_000 (one hour)
   */
  maxDelayMs?: number;
  /**
   * The share of each delay that is random: `0.5` waits between 50% and 100% of it.
   * @default 0.5
   */
  jitter?: number;
}

/** How handler runs are recorded through `idempotent()`. */
export interface InboxIdempotencyOptions {
  /**
   * The store. @default the inbox's own (`inbox.idempotencyStore`)
   */
  store?: IdempotencyStore | TransactionalIdempotencyStore;
  /**
   * Run each handler in the store's transaction (`context.tx`): its writes and
   * the run's record commit together. Needs the SQL store. On PGlite the
   * transaction holds the only connection while the handler runs: keep handlers
   * short, and query only through `context.tx` (a query on the database itself
   * would wait for the transaction, which waits for the handler).
   * @default false
   */
  transactional?: boolean;
}

/** Options for {@link createInboxWorker}. */
export interface InboxWorkerOptions {
  /** The inbox to process. */
  inbox: Inbox;
  /** The source whose events this worker processes. */
  source: string;
  /** Handlers by event type. */
  on: InboxHandlers;
  /**
   * How stored events reach workers.
   * @default inProcessQueue()
   */
  queue?: InboxQueue;
  /**
   * Events processed at the same time by this worker.
   * @default 8
   */
  concurrency?: number;
  /**
   * How long a claim holds an event, in milliseconds. A worker that dies
   * mid-handler leaves the event to others once this runs out; keep it
   * comfortably above your slowest handler.
   * @default 60_000
   */
  leaseMs?: number;
  /**
   * Extend the lease (the event's and its idempotency key's) every `leaseMs / 3`
   * while a handler runs, so a handler may run longer than `leaseMs` as long as
   * its process lives; a process that dies stops extending, and the event is
   * taken over once the lease runs out. `handlerTimeoutMs` bounds how long
   * one attempt may keep its event this way.
   * @default true
   */
  heartbeat?: boolean;
  /**
   * How long one handler run may take, in milliseconds; `false` for no limit.
   * When it runs out the attempt counts as failed (`InboxError` with code
   * `handler_timeout`, retried with backoff like any failure) and
   * `context.signal` is aborted. The abandoned run is not cancelled: a handler
   * that ignores the signal may still finish later, so keep its effects
   * idempotent.
   * @default 300_000 (five minutes)
   */
  handlerTimeoutMs?: number | false;
  /** Retry policy. */
  retry?: InboxRetryOptions;
  /**
   * How often the worker looks in the inbox for due events the queue did not
   * bring (retries, expired leases, events stored by processes without a
   * worker), in milliseconds; `false` turns the sweep off.
   * @default 1000
   */
  sweepIntervalMs?: number | false;
  /**
   * Runs through `idempotent()`, keyed on source and event id; `false` runs
   * handlers directly (the inbox lease alone then guards against double runs).
   * @default {} (the inbox's idempotency store, not transactional)
   */
  idempotency?: InboxIdempotencyOptions | false;
  /**
   * The random source for backoff jitter, in [0, 1).
   * @default Math.random
   */
  random?: () => number;
  /** Called with every handler failure and background error (never throws into the worker). */
  onError?: (error: unknown, event?: InboxEventKey) => void;
}

/** Processes one source's events: from its queue, and by sweeping the inbox for due ones. */
export interface InboxWorker {
  /** Starts consuming the queue and sweeping. Idempotent: later calls return the same promise. */
  start(): Promise<void>;
  /** Stops taking events and waits for the running handlers. */
  stop(): Promise<void>;
  /**
   * Processes every event that is due now and waits until none is running.
   * Events waiting for a backoff later than now are left for later. For tests,
   * scripts and graceful hand-offs.
   */
  drain(): Promise<void>;
  /** The queue topic of this worker's source (`inbox.<source>`). */
  readonly topic: string;
}

const RETRY_DEFAULTS: Readonly<Required<InboxRetryOptions>> = Object.freeze({
  maxAttempts: 8,
  initialDelayMs: 1000,
  factor: 2,
  maxDelayMs: 3_600_000,
  jitter: 0.5,
});

const WORKER_DEFAULTS = Object.freeze({
  concurrency: 8,
  leaseMs: 60_000,
  sweepIntervalMs: 1000,
  handlerTimeoutMs: 300_000,
});

const MAX_ERROR = 2000;

function invalid(message: string): InboxError {
  return new InboxError('createInboxWorker', 'invalid_options', message);
}

function positive(name: string, value: number, { integer = false, min = 1 } = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw invalid(`${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Validates the retry options and fills in the defaults (a new object). */
export function normalizeRetry(options: InboxRetryOptions = {}): Required<InboxRetryOptions> {
  const r = { ...RETRY_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  positive('retry.maxAttempts', r.maxAttempts, { integer: true });
  positive('retry.initialDelayMs', r.initialDelayMs, { min: 0 });
  positive('retry.factor', r.factor);
  positive('retry.maxDelayMs', r.maxDelayMs, { min: 0 });
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw invalid(`retry.jitter must be between 0 and 1, got ${String(r.jitter)}`);
  return r;
}

/**
 * The delay before the attempt after `attempt` failed: exponential, capped,
 * with the jittered share drawn from `random`.
 */
export function backoffDelay(retry: Required<InboxRetryOptions>, attempt: number, random: () => number): number {
  const base = Math.min(retry.maxDelayMs, retry.initialDelayMs * retry.factor ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - retry.jitter) + base * retry.jitter * random());
}

function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > MAX_ERROR ? `${text.slice(0, MAX_ERROR - 1)}…` : text;
}

/** The queue topic of a source. */
export const inboxTopic = (source: string): string => `inbox.${source}`;

/**
 * Creates a worker that processes one source's events off the request path.
 * Each event's handler runs through `idempotent()` keyed on source and event
 * id, under a lease; a failure is retried with exponential backoff and jitter,
 * and after `retry.maxAttempts` the event is dead-lettered with its last error
 * (`inbox.replay()` revives it). Run it in any number of processes against a
 * shared Postgres inbox.
 *
 * @example
 * ```ts
 * const worker = createInboxWorker({
 *   inbox,
 *   source: 'stripe',
 *   on: { 'invoice.paid': async (event) => markPaid(event.payload) },
 * });
 * await worker.start();
 * ```
 */
export function createInboxWorker(options: InboxWorkerOptions): InboxWorker {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  const { inbox, on } = options;
  if (typeof inbox?.ingest !== 'function' || typeof inbox.driver?.claim !== 'function') {
    throw invalid('inbox must be an Inbox (sqlInbox(db) or memoryInbox())');
  }
  const source = assertSource('createInboxWorker', options.source, 'invalid_options');
  if (typeof on !== 'object' || on === null || Object.values(on).some((h) => typeof h !== 'function')) {
    throw invalid('on must map event types to handler functions');
  }
  const handlers: InboxHandlers = { ...on };
  const queue = options.queue ?? inProcessQueue({ clock: inbox.now });
  const concurrency = positive('concurrency', options.concurrency ?? WORKER_DEFAULTS.concurrency, { integer: true });
  const leaseMs = positive('leaseMs', options.leaseMs ?? WORKER_DEFAULTS.leaseMs);
  const sweepIntervalMs =
    options.sweepIntervalMs === false
      ? false
      : positive('sweepIntervalMs', options.sweepIntervalMs ?? WORKER_DEFAULTS.sweepIntervalMs);
  const handlerTimeoutMs =
    options.handlerTimeoutMs === false
      ? false
      : positive('handlerTimeoutMs', options.handlerTimeoutMs ?? WORKER_DEFAULTS.handlerTimeoutMs);
  const heartbeat = options.heartbeat ?? true;
  if (typeof heartbeat !== 'boolean') throw invalid('heartbeat must be a boolean');
  const retry = normalizeRetry(options.retry);
  const random = options.random ?? Math.random;
  const onError = options.onError ?? (() => {});
  const now = inbox.now;
  const topic = inboxTopic(source);
  const workerId = globalThis.crypto.randomUUID();
  let claims = 0;

  const run = idempotencyRunner(options.idempotency, inbox, leaseMs, handlerTimeoutMs);

  const inFlight = new Set<Promise<void>>();
  let started: Promise<void> | undefined;
  let stopping = false;
  let subscription: QueueSubscription | undefined;
  let unsubscribe: (() => void) | undefined;
  let sweepTimer: ReturnType<typeof setTimeout> | undefined;
  /** The sweep pass running now: `stop()` waits for it, as it may be claiming events. */
  let sweeping: Promise<void> | undefined;

  const report = (error: unknown, event?: InboxEventKey) => {
    try {
      onError(error, event);
    } catch {
      // an observer's failure must not stop the worker
    }
  };

  async function claim(id: string | undefined, limit: number): Promise<ClaimedInboxEvent[]> {
    const at = now();
    return inbox.driver.claim({
      source,
      ...(id === undefined ? {} : { id }),
      owner: `${workerId}:${++claims}`,
      now: new Date(at),
      leaseUntil: new Date(at + leaseMs),
      limit,
    });
  }

  /**
   * Keeps the lease of a running event alive; `attach` adds the idempotency
   * key's lease. `stop()` resolves once no beat is in flight, so a late beat
   * never races the key's completion or the event's settlement.
   */
  function keepAlive(event: ClaimedInboxEvent): Heartbeat {
    let extendKey: ((ms: number) => Promise<number>) | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let beating: Promise<void> | undefined;
    let stopped = !heartbeat;
    const beat = async () => {
      const at = now();
      const held = await inbox.driver.extend(event, event.leaseOwner, new Date(at + leaseMs), new Date(at));
      if (!held) {
        stopped = true;
        report(new InboxError('worker', 'stopped', `lost the lease on ${source}/${event.id} while it ran`), event);
        return;
      }
      await extendKey?.(leaseMs);
    };
    const next = () => {
      if (stopped) return;
      timer = setTimeout(() => {
        beating = beat().then(next, (error: unknown) => {
          report(error, event);
          next();
        });
      }, leaseMs / 3);
      (timer as { unref?: () => void }).unref?.();
    };
    next();
    return {
      attach: (extend) => {
        extendKey = extend;
      },
      stop: async () => {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
        await beating;
      },
    };
  }

  async function processEvent(event: ClaimedInboxEvent): Promise<void> {
    const handler = handlers[event.type] ?? handlers['*'];
    const alive = keepAlive(event);
    try {
      if (handler) await run(event, handler, alive);
    } catch (error) {
      await alive.stop();
      report(error, event);
      await fail(event, error);
      return;
    }
    await alive.stop();
    const settled = await inbox.driver.settle(event, event.leaseOwner, { status: 'processed' }, new Date(now()));
    if (!settled) {
      report(new InboxError('worker', 'stopped', `lost the lease on ${source}/${event.id} before settling`), event);
    }
  }

  async function fail(event: ClaimedInboxEvent, error: unknown): Promise<void> {
    const at = now();
    const message = describeError(error);
    // another run still holds the idempotency key: try again later without spending the budget on it
    const exhausted = event.attempts >= retry.maxAttempts && !isIdempotencyInProgressError(error);
    if (exhausted) {
      await inbox.driver.settle(event, event.leaseOwner, { status: 'dead', error: message }, new Date(at));
      return;
    }
    const nextAttemptAt = new Date(at + backoffDelay(retry, event.attempts, random));
    const settled = await inbox.driver.settle(
      event,
      event.leaseOwner,
      { status: 'failed', error: message, nextAttemptAt },
      new Date(at),
    );
    if (settled) {
      await queue.send(topic, [{ source, id: event.id }], { startAfter: nextAttemptAt });
    }
  }

  /** Runs `task` as tracked work, reporting (never throwing) its errors. */
  function track(task: () => Promise<void>, key?: InboxEventKey): Promise<void> {
    const p = task()
      .catch((error: unknown) => report(error, key))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    return p;
  }

  /** A queue job: claim that event if it is due, and process it. */
  async function onJob(job: InboxJob): Promise<void> {
    if (stopping || job.source !== source) return;
    await track(async () => {
      const [event] = await claim(job.id, 1);
      if (event) await processEvent(event);
    }, job);
  }

  /** Claims up to the free capacity of due events and processes them; resolves with how many. */
  async function sweepOnce(): Promise<number> {
    const free = concurrency - inFlight.size;
    if (free <= 0) return 0;
    const events = await claim(undefined, free);
    for (const event of events) void track(() => processEvent(event), event);
    return events.length;
  }

  function scheduleSweep(delay: number): void {
    if (sweepIntervalMs === false || stopping) return;
    sweepTimer = setTimeout(() => {
      sweepTimer = undefined;
      const pass: Promise<void> = sweepOnce()
        .then(
          (n) => scheduleSweep(n > 0 && inFlight.size < concurrency ? 0 : sweepIntervalMs),
          (error: unknown) => {
            report(error);
            scheduleSweep(sweepIntervalMs);
          },
        )
        .finally(() => {
          if (sweeping === pass) sweeping = undefined;
        });
      sweeping = pass;
    }, delay);
    (sweepTimer as { unref?: () => void }).unref?.();
  }

  return {
    topic,
    start() {
      started ??= (async () => {
        stopping = false;
        unsubscribe = inbox.subscribe((keys) => {
          const mine = keys.filter((k) => k.source === source);
          if (mine.length > 0) queue.send(topic, mine).catch((error: unknown) => report(error));
        });
        try {
          subscription = await queue.work(topic, onJob, { concurrency });
        } catch (error) {
          // let a later start() try again (e.g. pg-boss was not reachable yet)
          unsubscribe();
          started = undefined;
          throw error;
        }
        scheduleSweep(0);
      })();
      return started;
    },
    async stop() {
      stopping = true;
      unsubscribe?.();
      if (sweepTimer !== undefined) clearTimeout(sweepTimer);
      await started?.catch(() => {});
      await subscription?.stop();
      // a sweep that was claiming when stop() came tracks what it claimed before it ends
      await sweeping;
      await Promise.allSettled([...inFlight]);
      started = undefined;
    },
    async drain() {
      for (;;) {
        const claimed = await sweepOnce();
        await Promise.allSettled([...inFlight]);
        if (claimed === 0 && inFlight.size === 0) return;
      }
    },
  };
}

/** The heartbeat of one running event. */
interface Heartbeat {
  /** Adds the idempotency key's lease to what each beat extends. */
  attach(extend: (ms: number) => Promise<number>): void;
  /** Stops beating; resolves once no beat is in flight. Safe to call again. */
  stop(): Promise<void>;
}

/** Runs a handler and stops the heartbeat as soon as it settles (before its run is recorded). */
type Runner = (event: ClaimedInboxEvent, handler: InboxEventHandler, heartbeat: Heartbeat) => Promise<void>;

/**
 * Runs one handler attempt, failing it with `handler_timeout` (and aborting
 * `context.signal`) once `timeoutMs` has passed.
 */
async function runHandler(
  handler: InboxEventHandler,
  event: ClaimedInboxEvent,
  context: Omit<InboxHandlerContext, 'signal'>,
  timeoutMs: number | false,
): Promise<void> {
  const controller = new AbortController();
  const run = (async () => {
    await handler(event, { ...context, signal: controller.signal });
  })();
  if (timeoutMs === false) return run;
  let timer: ReturnType<typeof setTimeout> | undefined;
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
  try {
    await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Builds how a handler is run: through `idempotent()` on the chosen store, or directly. */
function idempotencyRunner(
  option: InboxIdempotencyOptions | false | undefined,
  inbox: Inbox,
  leaseMs: number,
  timeoutMs: number | false,
): Runner {
  const direct: Runner = async (event, handler, heartbeat) => {
    const context = { attempt: event.attempts, key: `inbox:${event.source}:${event.id}`, takeover: false };
    try {
      await runHandler(handler, event, context, timeoutMs);
    } finally {
      await heartbeat.stop();
    }
  };
  if (option === false) return direct;
  const store = option?.store ?? inbox.idempotencyStore;
  if (store === undefined) {
    // an inbox from createInbox() without a store: plain runs go direct, transactional ones cannot
    if (option?.transactional !== true) return direct;
    throw invalid('idempotency.transactional needs a store: pass idempotency.store or use sqlInbox');
  }
  type Input = { event: ClaimedInboxEvent; handler: InboxEventHandler; heartbeat: Heartbeat };
  const key = (input: Input) => `inbox:${input.event.source}:${input.event.id}`;
  const body = async ({ event, handler, heartbeat }: Input, ctx: IdempotencyContext & { tx?: SqlExecutor }) => {
    heartbeat.attach(ctx.extendLease);
    const context = { attempt: event.attempts, key: ctx.key, takeover: ctx.takeover };
    try {
      await runHandler(handler, event, ctx.tx === undefined ? context : { ...context, tx: ctx.tx }, timeoutMs);
    } finally {
      // a beat after this point would extend a key that idempotent() is about to complete
      await heartbeat.stop();
    }
    return true;
  };
  let once: (input: Input) => Promise<boolean>;
  if (option?.transactional === true) {
    if (typeof (store as Partial<TransactionalIdempotencyStore>).transaction !== 'function') {
      throw invalid('idempotency.transactional needs a store with transaction() (the SQL store)');
    }
    const transactional = store as TransactionalIdempotencyStore;
    once = idempotent(body, { store: transactional, transactional: true, key, lease: leaseMs, now: inbox.now });
  } else {
    once = idempotent(body, { store, key, lease: leaseMs, now: inbox.now });
  }
  return async (event, handler, heartbeat) => {
    await once({ event, handler, heartbeat });
  };
}
