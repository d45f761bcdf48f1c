import { isIdempotencyInProgressError } from '../idempotency/errors';
import { replayRecord } from '../idempotency/idempotent';
import { type ErrorReporter, logOnceReporter, safeReporter } from '../internal/report';
import { backoffDelay, type InboxRetryOptions, invalidWorkerOption, normalizeRetry, positive } from './backoff';
import { eventClaimer } from './claim';
import { InboxError } from './errors';
import {
  type InboxEventHandler,
  type InboxEventMap,
  type InboxHandlerContext,
  type InboxHandlerEvent,
  type InboxHandlers,
  type InboxSchemas,
  isPermanentFailure,
  router,
  type SchemaEventMap,
  type TransactionalInboxHandlerContext,
} from './handlers';
import { type Heartbeat, startHeartbeat } from './heartbeat';
import type { Inbox } from './inbox';
import { assertSource } from './prepare';
import { type InboxJob, type InboxQueue, inProcessQueue, type QueueSubscription } from './queue';
import { type InboxIdempotencyOptions, recorder, runKey, runWithTimeout } from './runner';
import { keepTrying, sweepLoop } from './sweep';
import type {
  ClaimedInboxEvent,
  InboxAttempt,
  InboxDriver,
  InboxEventKey,
  InboxMetric,
  InboxMetricListener,
  Settlement,
} from './types';

export type { InboxRetryOptions } from './backoff';
export { backoffDelay, normalizeRetry } from './backoff';
export type { InboxIdempotencyOptions } from './runner';

/**
 * What happens to an event whose type no handler matches (no exact type, no
 * wildcard, no `'*'`): `'dead'` dead-letters it with an `unhandled` error
 * (visible in `list({ status: 'dead' })`; add a handler, then `replay`);
 * `'processed'` marks it processed without running anything; a function
 * decides per event (and may log or count it).
 */
export type InboxUnhandledPolicy =
  | 'dead'
  | 'processed'
  | ((event: InboxHandlerEvent) => 'dead' | 'processed' | Promise<'dead' | 'processed'>);

/** Options for {@link createInboxWorker}. */
export interface InboxWorkerOptions<
  M extends InboxEventMap = InboxEventMap,
  C extends InboxHandlerContext = InboxHandlerContext,
> {
  /** The inbox to process. */
  inbox: Inbox;
  /** The source whose events this worker processes. */
  source: string;
  /** Handlers by event type: exact types, `'<prefix>.*'` wildcards and `'*'`; the most specific wins. */
  on: InboxHandlers<M, C>;
  /**
   * Payload schemas by event type (zod or anything with `safeParse`): the
   * handler gets the parsed payload, typed; a payload that does not match is
   * dead-lettered at once with the schema's message (`permanent_failure`).
   */
  schemas?: InboxSchemas;
  /**
   * What to do with an event no handler matches.
   * @default 'dead'
   */
  unhandled?: InboxUnhandledPolicy;
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
  /**
   * Called with every handler failure and background error (a sweep or a queue
   * subscription that failed, a lost lease); never throws into the worker.
   * @default a reporter that logs each distinct cause once to the console
   */
  onError?: (error: unknown, event?: InboxEventKey) => void;
  /** Receives the worker's {@link InboxMetric}s: attempt outcomes, processing lag, claim sizes. */
  onMetric?: InboxMetricListener;
}

/** {@link InboxWorkerOptions} in transactional mode: every handler gets `ctx.tx`. */
export type TransactionalInboxWorkerOptions<M extends InboxEventMap = InboxEventMap> = InboxWorkerOptions<
  M,
  TransactionalInboxHandlerContext
> & { idempotency: InboxIdempotencyOptions & { transactional: true } };

/** {@link InboxWorkerOptions} with payload schemas: handlers get the parsed payloads, typed. */
export type SchemaInboxWorkerOptions<
  S extends InboxSchemas,
  C extends InboxHandlerContext = InboxHandlerContext,
> = InboxWorkerOptions<SchemaEventMap<S>, C> & { schemas: S };

/** What one {@link InboxWorker.drain} did. */
export interface DrainResult {
  /** Events claimed and run (processed, failed, deferred or dead-lettered). */
  claimed: number;
  /** True when the time budget ended before a claim found no due event (some may be left). */
  budgetExhausted: boolean;
}

/** Options of {@link InboxWorker.drain}. */
export interface DrainOptions {
  /**
   * Stop claiming new events after this many milliseconds (running ones still
   * finish, each within `handlerTimeoutMs`); for a scheduled function or
   * `waitUntil` with a time limit.
   * @default no limit
   */
  budgetMs?: number;
}

/** Processes one source's events: from its queue, and by sweeping the inbox for due ones. */
export interface InboxWorker {
  /**
   * Starts sweeping and consuming the queue. When the queue cannot be
   * subscribed (its store is down), the worker reports the error and tries
   * again with backoff (500 ms doubling to 30 s), sweeping meanwhile; the
   * promise resolves once subscribed (or once stopped). Later calls return
   * the same promise.
   */
  start(): Promise<void>;
  /** Stops taking events and waits for the running handlers. */
  stop(): Promise<void>;
  /**
   * Processes every event that is due now and waits until none is running.
   * Events waiting for a backoff later than now are left for later. For tests,
   * scripts, serverless drains and graceful hand-offs.
   */
  drain(options?: DrainOptions): Promise<DrainResult>;
  /** The queue topic of this worker's source (`inbox.<source>`). */
  readonly topic: string;
}

const WORKER_DEFAULTS = Object.freeze({
  concurrency: 8,
  leaseMs: 60_000,
  sweepIntervalMs: 1000,
  handlerTimeoutMs: 300_000,
});

const MAX_ERROR = 2000;

function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > MAX_ERROR ? `${text.slice(0, MAX_ERROR - 1)}…` : text;
}

/** The queue topic of a source. */
export const inboxTopic = (source: string): string => `inbox.${source}`;

/** The options every worker needs, validated once (a new object: the caller's are never touched). */
function resolveWorkerOptions(options: InboxWorkerOptions) {
  if (typeof options !== 'object' || options === null) throw invalidWorkerOption('options must be an object');
  const { inbox, on } = options;
  if (typeof inbox?.ingest !== 'function' || typeof inbox.driver?.claim !== 'function') {
    throw invalidWorkerOption('inbox must be an Inbox (sqlInbox(db) or memoryInbox())');
  }
  const source = assertSource('createInboxWorker', options.source, 'invalid_options');
  if (typeof on !== 'object' || on === null) throw invalidWorkerOption('on must map event types to handler functions');
  const unhandled = options.unhandled ?? 'dead';
  if (unhandled !== 'dead' && unhandled !== 'processed' && typeof unhandled !== 'function') {
    throw invalidWorkerOption(`unhandled must be 'dead', 'processed' or a function, got ${String(unhandled)}`);
  }
  const heartbeat = options.heartbeat ?? true;
  if (typeof heartbeat !== 'boolean') throw invalidWorkerOption('heartbeat must be a boolean');
  const leaseMs = positive('leaseMs', options.leaseMs ?? WORKER_DEFAULTS.leaseMs);
  const onMetric = options.onMetric;
  if (onMetric !== undefined && typeof onMetric !== 'function')
    throw invalidWorkerOption('onMetric must be a function');
  return {
    inbox,
    source,
    route: router(on, options.schemas, 'createInboxWorker'),
    unhandled,
    queue: options.queue ?? inProcessQueue({ clock: inbox.now }),
    concurrency: positive('concurrency', options.concurrency ?? WORKER_DEFAULTS.concurrency, { integer: true }),
    leaseMs,
    heartbeat,
    sweepIntervalMs:
      options.sweepIntervalMs === false
        ? (false as const)
        : positive('sweepIntervalMs', options.sweepIntervalMs ?? WORKER_DEFAULTS.sweepIntervalMs),
    handlerTimeoutMs:
      options.handlerTimeoutMs === false
        ? (false as const)
        : positive('handlerTimeoutMs', options.handlerTimeoutMs ?? WORKER_DEFAULTS.handlerTimeoutMs),
    retry: normalizeRetry(options.retry),
    random: options.random ?? Math.random,
    recorder: recorder(options.idempotency, inbox, leaseMs),
    onError: options.onError,
    onMetric,
  };
}

/**
 * Creates a worker that processes one source's events off the request path.
 * Each event goes through the same layers, in this order (see `attempt`
 * below): its lease, a heartbeat that extends it, the idempotent claim of its
 * run, the transaction (in transactional mode), the time limit, the handler.
 * A failure is retried with exponential backoff and jitter, and after
 * `retry.maxAttempts` (or at once, for a {@link permanentFailure}) the event
 * is dead-lettered with its error (`inbox.replay()` revives it). Run it in any
 * number of processes against a shared Postgres inbox.
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
export function createInboxWorker<M extends InboxEventMap = InboxEventMap>(
  options: TransactionalInboxWorkerOptions<M>,
): InboxWorker;
export function createInboxWorker<S extends InboxSchemas>(
  options: SchemaInboxWorkerOptions<S, TransactionalInboxHandlerContext> & {
    idempotency: InboxIdempotencyOptions & { transactional: true };
  },
): InboxWorker;
export function createInboxWorker<S extends InboxSchemas>(options: SchemaInboxWorkerOptions<S>): InboxWorker;
export function createInboxWorker<M extends InboxEventMap = InboxEventMap>(options: InboxWorkerOptions<M>): InboxWorker;
export function createInboxWorker(options: InboxWorkerOptions): InboxWorker {
  const o = resolveWorkerOptions(options);
  const { inbox, source, queue, concurrency, leaseMs, retry, random, recorder: record } = o;
  const now = inbox.now;
  const topic = inboxTopic(source);
  const claim = eventClaimer(inbox, source, leaseMs);
  const onError: ErrorReporter = o.onError ? safeReporter(o.onError) : logOnceReporter(`inbox worker ${source}`);
  const report = (error: unknown, event?: InboxEventKey) => {
    if (o.onError) o.onError(error, event === undefined ? undefined : { source: event.source, id: event.id });
    else onError(error);
  };
  const metric = (m: InboxMetric) => {
    try {
      o.onMetric?.(m);
    } catch {
      // an exporter's failure must not stop the worker
    }
  };

  const inFlight = new Set<Promise<void>>();
  let started: Promise<void> | undefined;
  let stopping = false;
  let subscription: QueueSubscription | undefined;
  let unsubscribe: (() => void) | undefined;
  let wakeStarter: (() => void) | undefined;

  const heartbeatOn = (driver: InboxDriver, event: ClaimedInboxEvent): Heartbeat =>
    startHeartbeat({
      event,
      driver,
      leaseMs,
      now,
      enabled: o.heartbeat,
      report: (error) => report(error, event),
    });

  /**
   * One attempt, its layers in the order that leaves no wait cycle:
   * 1. lease: `event` was claimed with one (claim.ts);
   * 2. heartbeat: extends it through the inbox's own connections;
   * 3. idempotent claim of `inbox:<source>:<id>` (a run that already
   *    finished is replayed: nothing runs again);
   * 4. transaction, in transactional mode: the heartbeat on the inbox's
   *    connections stops BEFORE the transaction opens, and one that beats
   *    through the transaction takes over, so no beat ever waits for the
   *    connection the transaction holds, and nothing inside the transaction
   *    waits for a beat that needs another connection;
   * 5. timeout (`handlerTimeoutMs`);
   * 6. the handler.
   * Each heartbeat stops before the run's record is written.
   */
  async function attempt(event: ClaimedInboxEvent, handler: InboxEventHandler): Promise<void> {
    const context = { attempt: event.attempts, key: runKey(event), takeover: false };
    const beat = heartbeatOn(inbox.driver, event); // 2
    try {
      const held = record && (await record.steps.claim(event)); // 3
      if (held === undefined) return await runWithTimeout(handler, event, context, o.handlerTimeoutMs); // 5, 6
      if (held.state === 'finished') return void replayRecord(held.record);
      const run = { ...context, takeover: held.context.takeover };
      if (!record?.transactional) {
        beat.attach(held.context.extendLease);
        await record?.steps.run(held, async () => {
          try {
            await runWithTimeout(handler, event, run, o.handlerTimeoutMs); // 5, 6
          } finally {
            await beat.stop();
          }
          return true;
        });
        return;
      }
      await beat.stop(); // 4: before the transaction takes a connection
      await record.steps.runInTransaction(held, async (ctx) => {
        const inTx = heartbeatOn(record.driverIn(ctx.tx), event);
        inTx.attach(ctx.extendLease);
        try {
          await runWithTimeout(handler, event, { ...run, tx: ctx.tx }, o.handlerTimeoutMs); // 5, 6
        } finally {
          await inTx.stop(); // its beats go through the transaction, so they can finish while it is open
        }
        return true;
      });
    } finally {
      await beat.stop();
    }
  }

  /** How a failed attempt settles: deferred (no attempt spent), dead, or failed with a backoff. */
  function failure(event: ClaimedInboxEvent, error: unknown): Settlement {
    const at = now();
    const message = describeError(error);
    if (isIdempotencyInProgressError(error) && error.code === 'in_progress') {
      // another run holds the key: this attempt never started, so it is not counted (decision 0332)
      const nextAttemptAt = new Date(Math.max(error.leaseExpiresAt, at + backoffDelay(retry, 1, random)));
      return { status: 'deferred', error: message, nextAttemptAt };
    }
    if (isPermanentFailure(error) || event.attempts >= retry.maxAttempts) return { status: 'dead', error: message };
    return {
      status: 'failed',
      error: message,
      nextAttemptAt: new Date(at + backoffDelay(retry, event.attempts, random)),
    };
  }

  /** What to do with an event no handler matches, by the `unhandled` policy. */
  async function unhandled(event: ClaimedInboxEvent): Promise<Settlement> {
    const policy = typeof o.unhandled === 'function' ? await o.unhandled(event as InboxHandlerEvent) : o.unhandled;
    if (policy === 'processed') return { status: 'processed' };
    const error = new InboxError(
      'worker',
      'unhandled',
      `no handler matches type ${JSON.stringify(event.type)} of ${source}/${event.id}`,
    );
    report(error, event);
    return { status: 'dead', error: describeError(error) };
  }

  /** Runs one claimed event to its settlement: routes it, attempts it, settles the outcome. */
  async function processEvent(event: ClaimedInboxEvent): Promise<void> {
    const startedAt = now();
    const route = o.route(event.type);
    let outcome: Settlement;
    if (route === undefined) outcome = await unhandled(event);
    else {
      try {
        await attempt(event, route.handler);
        outcome = { status: 'processed' };
      } catch (error) {
        report(error, event);
        outcome = failure(event, error);
      }
    }
    const at = now();
    const history: InboxAttempt | undefined =
      outcome.status === 'deferred'
        ? undefined // it never started: nothing to keep
        : {
            attempt: event.attempts,
            startedAt: event.updatedAt,
            endedAt: new Date(at),
            outcome: outcome.status,
            error: outcome.status === 'processed' ? null : outcome.error,
          };
    const settled = await inbox.driver.settle(event, event.leaseOwner, outcome, new Date(at), history);
    metric({
      name: 'inbox.attempt',
      source,
      type: event.type,
      outcome: route === undefined && outcome.status !== 'dead' ? 'unhandled' : outcome.status,
      attempt: event.attempts,
      durationMs: at - startedAt,
    });
    if (!settled) {
      report(new InboxError('worker', 'stopped', `lost the lease on ${source}/${event.id} before settling`), event);
      return;
    }
    if (outcome.status === 'processed') {
      metric({ name: 'inbox.lag', source, type: event.type, lagMs: at - event.receivedAt.getTime() });
    } else if (outcome.status === 'failed' || outcome.status === 'deferred') {
      await queue.send(topic, [{ source, id: event.id }], { startAfter: outcome.nextAttemptAt });
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
    if (events.length > 0) metric({ name: 'inbox.claim', source, size: events.length });
    for (const event of events) void track(() => processEvent(event), event);
    return events.length;
  }

  const sweep = sweepLoop({
    intervalMs: o.sweepIntervalMs,
    pass: sweepOnce,
    busy: () => inFlight.size >= concurrency,
    report: (error) => report(error),
  });

  /** Subscribes to the queue, trying again with backoff while it fails; the sweep runs meanwhile. */
  async function begin(): Promise<void> {
    stopping = false;
    unsubscribe = inbox.subscribe((keys) => {
      const mine = keys.filter((k) => k.source === source);
      if (mine.length > 0) queue.send(topic, mine).catch((error: unknown) => report(error));
    });
    sweep.schedule(0);
    subscription = await keepTrying(() => queue.work(topic, onJob, { concurrency }), {
      stopped: () => stopping,
      report: (error) => report(error),
      wait: (ms) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          (timer as { unref?: () => void }).unref?.();
          wakeStarter = () => {
            clearTimeout(timer);
            resolve();
          };
        }),
    });
    if (stopping) await subscription?.stop();
  }

  return {
    topic,
    start() {
      started ??= begin();
      return started;
    },
    async stop() {
      stopping = true;
      unsubscribe?.();
      wakeStarter?.();
      await started?.catch(() => {});
      await subscription?.stop();
      subscription = undefined;
      // a sweep that was claiming when stop() came tracks what it claimed before it ends
      await sweep.stop();
      await Promise.allSettled([...inFlight]);
      started = undefined;
    },
    async drain(drainOptions = {}) {
      const budget = drainOptions.budgetMs;
      if (budget !== undefined) positive('budgetMs', budget, { min: 0 });
      const deadline = budget === undefined ? Number.POSITIVE_INFINITY : now() + budget;
      let claimed = 0;
      for (;;) {
        if (now() >= deadline) {
          await Promise.allSettled([...inFlight]);
          return { claimed, budgetExhausted: true };
        }
        const n = await sweepOnce();
        claimed += n;
        if (n === 0 && inFlight.size === 0) return { claimed, budgetExhausted: false };
        // wait for one to finish, so free capacity is claimed again at once
        await Promise.race(inFlight);
      }
    },
  };
}
