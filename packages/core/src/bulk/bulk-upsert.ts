import { wellFormed } from '../internal/encoding';
import {
  type BulkCheckpointStore,
  type BulkItemState,
  type BulkJobSummary,
  checkJobName,
  memoryBulkCheckpoints,
} from './checkpoint';
import { BulkError, isBulkError } from './errors';
import type { BulkBudget, BulkRecord, BulkTarget } from './target';

const API = 'bulkUpsert';

/** Options for {@link bulkUpsert}. */
export interface BulkUpsertOptions<T> {
  /** The job's name: its checkpoint. Run the same job again to resume it. */
  job: string;
  /** The records, each with its unique key. Pass the same records when resuming. */
  records: Iterable<BulkRecord<T>>;
  /** The provider side (a provider package builds it over its client). */
  target: BulkTarget<T>;
  /**
   * Where the checkpoint lives. Use `sqlBulkCheckpoints(db)` for a job that
   * must survive a crash.
   * @default memoryBulkCheckpoints() (lasts as long as this call)
   */
  checkpoints?: BulkCheckpointStore;
  /**
   * How the job finds existing records: `index` lists every remote record
   * once (one request per page, the cheap way for more than a few records),
   * `find` looks each key up (one request per record).
   * @default 'index' when the target can list, else 'find'
   */
  lookup?: 'index' | 'find';
  /** Requests kept in flight. @default the target's concurrency, else 8 */
  concurrency?: number;
  /**
   * What to do when the plan does not fit the budget left today:
   * `run-what-fits` runs until the budget is spent and pauses (the result
   * says when to resume), `refuse` sends nothing and throws `budget_short`.
   * @default 'run-what-fits'
   */
  whenBudgetShort?: 'run-what-fits' | 'refuse';
  /**
   * When the budget runs out: wait for the reset and go on (true), or return
   * a `paused` result with `resumeAfter` (false).
   * @default false
   */
  waitForReset?: boolean;
  /** Called once with the plan, before the first request. */
  onPlan?(plan: BulkPlan): void;
  /** Called with the progress, at most every `progressEveryMs`, and at each phase change. */
  onProgress?(progress: BulkProgress): void;
  /** @default 250 */
  progressEveryMs?: number;
  /** Stops the job; the checkpoint keeps what was done (`aborted`). */
  signal?: AbortSignal;
}

/** What a job will do, computed before its first request. */
export interface BulkPlan {
  job: string;
  /** Records given. */
  total: number;
  /** Records done by earlier runs of the job. */
  alreadyDone: number;
  /** Records rejected before sending (invalid, or a key given twice). */
  rejected: number;
  /** Records left to write. */
  pending: number;
  /** Creates an earlier run sent without learning the outcome: looked up before anything is created again. */
  uncertain: number;
  /** How the job finds existing records. */
  lookup: 'index' | 'find';
  /** Requests the job expects to send (the index size is estimated from the records given). */
  requests: number;
  /** What they cost against the daily budget (an upper bound: every write priced as the dearer of create and update). */
  cost?: number;
  /** The budget left when the plan was made. */
  budgetRemaining?: number;
  /** When the budget resets. */
  resetsAt?: Date;
  /** Records that fit the budget left today. */
  fitsToday: number;
  /** False when the job cannot finish before the reset: it runs what fits and pauses. */
  finishesToday: boolean;
  /** Time the requests take at the target's rate. */
  estimatedMs?: number;
}

/** A job's progress. */
export interface BulkProgress {
  job: string;
  phase: 'index' | 'write' | 'paused' | 'done';
  total: number;
  /** Records written, resolved, or done by an earlier run. */
  done: number;
  created: number;
  updated: number;
  failed: number;
  /** Requests sent by this run. */
  requests: number;
  elapsedMs: number;
  /** Estimated time to finish (undefined until there is a rate to go by). */
  etaMs?: number;
}

/** One record the job could not write; the job went on. */
export interface BulkItemFailure {
  key: string;
  /** Position in `records`. */
  index: number;
  /**
   * `invalid_record` (the target's `validate`, or a key that is not a
   * non-empty string), `duplicate_key` (the key came earlier in `records`),
   * `ambiguous_key` (more than one remote record has the key: nothing is
   * written), or the target's code for an error the provider answered.
   */
  code: string;
  message: string;
  /** The provider's HTTP status, when it answered. */
  status?: number;
  action?: 'create' | 'update';
}

/** What a job did. */
export interface BulkUpsertResult {
  job: string;
  /** `paused`: the budget ran out; run the job again after `resumeAfter`. */
  status: 'completed' | 'paused';
  plan: BulkPlan;
  total: number;
  /** Records done, this run and earlier. */
  done: number;
  created: number;
  updated: number;
  /** Uncertain creates of an earlier run found by lookup (not created again). */
  resolved: number;
  /** Records done by earlier runs. */
  skipped: number;
  failures: BulkItemFailure[];
  /** Records not attempted because the budget ran out. */
  remaining: number;
  requests: number;
  /** Budget units this run spent (when the target has costs). */
  cost: number;
  elapsedMs: number;
  resumeAfter?: Date;
}

interface Work<T> {
  record: BulkRecord<T>;
  index: number;
  /** An earlier run sent a create and never recorded the answer. */
  uncertain: boolean;
  /** The id recorded by an earlier run. */
  id?: string;
}

/**
 * Creates or updates thousands of records keyed by a unique field, inside a
 * provider's limits: the plan is made against the daily budget before the
 * first request, every create is checkpointed before it is sent (so a job
 * resumed after a crash looks the record up instead of creating it twice),
 * one record's failure is listed in the result without stopping the job, and
 * a job that runs out of budget pauses until the reset.
 *
 * Provider packages wrap it (`bulkUpsertPersons` in `@ballast/pipedrive`);
 * pacing is the target's client's rate limiter.
 *
 * @throws BulkError `invalid_options`, `budget_short`, `target_failed`, `aborted`, `store_failed`.
 */
export async function bulkUpsert<T>(options: BulkUpsertOptions<T>): Promise<BulkUpsertResult> {
  const o = normalize(options);
  const { job, target, store, signal } = o;
  const started = Date.now();
  const never = new AbortController().signal;
  const callSignal = signal ?? never;

  // 1. the records: rejected up front, or work
  const failures: BulkItemFailure[] = [];
  const seen = new Set<string>();
  // `stored`: the key as a database stores it (a lone surrogate as U+FFFD), what checkpoints are compared by
  const records: Array<{ record: BulkRecord<T>; index: number; stored: string }> = [];
  let position = 0;
  for (const record of o.records) {
    const index = position++;
    const key = (record as { key?: unknown } | null)?.key;
    if (typeof key !== 'string' || key.length === 0 || key.length > 1000) {
      failures.push({
        key: String(key),
        index,
        code: 'invalid_record',
        message: 'key must be a non-empty string of at most 1000 characters',
      });
      continue;
    }
    // keys are compared as a database stores them (a lone surrogate as U+FFFD): two keys stored alike
    // would share one checkpoint row
    const stored = wellFormed(key);
    if (seen.has(stored)) {
      failures.push({ key, index, code: 'duplicate_key', message: `key ${key} comes earlier in records` });
      continue;
    }
    seen.add(stored);
    const issue = target.validate?.(record);
    if (issue !== undefined) {
      failures.push({ key, index, code: 'invalid_record', message: issue });
      continue;
    }
    records.push({ record, index, stored });
  }
  const total = position;
  const rejected = failures.length;

  // 2. the checkpoint
  const states = new Map((await guardStore(job, () => store.load(job))).map((s) => [wellFormed(s.key), s]));
  const queue: Work<T>[] = [];
  let skipped = 0;
  for (const { record, index, stored } of records) {
    const state = states.get(stored);
    if (state?.status === 'done') {
      skipped++;
      continue;
    }
    const work: Work<T> = { record, index, uncertain: state?.status === 'sent' && state.action === 'create' };
    if (state?.id !== undefined) work.id = state.id;
    queue.push(work);
  }

  // 3. the plan
  const costs = target.costs;
  const lookup = o.lookup;
  const pending = queue.length;
  const uncertain = queue.filter((w) => w.uncertain).length;
  const indexPages =
    lookup === 'index' && pending > 0 ? Math.max(1, Math.ceil(total / (costs?.indexPageSize ?? 500))) : 0;
  const finds = lookup === 'find' ? pending : uncertain;
  const writeCost = costs ? Math.max(costs.create, costs.update) : 0;
  const fixedCost = costs ? indexPages * costs.indexPage + finds * costs.find : 0;
  const requests = indexPages + finds + pending;
  const budget = readBudget(target);
  let fitsToday = pending;
  if (budget && costs) {
    const perItem = writeCost + (lookup === 'find' ? costs.find : 0);
    const fixed = fixedCost - (lookup === 'find' ? pending * costs.find : 0);
    fitsToday = Math.max(0, Math.min(pending, Math.floor((budget.remaining - fixed) / Math.max(perItem, 1e-9))));
  }
  const plan: BulkPlan = {
    job,
    total,
    alreadyDone: skipped,
    rejected,
    pending,
    uncertain,
    lookup,
    requests,
    fitsToday,
    finishesToday: fitsToday >= pending,
  };
  if (costs) plan.cost = fixedCost + pending * writeCost;
  if (budget) {
    plan.budgetRemaining = budget.remaining;
    plan.resetsAt = budget.resetsAt;
  }
  if (target.rate) plan.estimatedMs = Math.round((requests * target.rate.intervalMs) / target.rate.requests);
  o.onPlan?.(plan);
  if (!plan.finishesToday && o.whenBudgetShort === 'refuse')
    throw new BulkError(
      API,
      'budget_short',
      `job ${job} needs about ${plan.cost} budget units for ${pending} records; ${budget?.remaining} are left until ${budget?.resetsAt.toISOString()}, enough for ${fitsToday}`,
      { job, done: skipped },
    );

  // 4. run
  const counts = { created: 0, updated: 0, resolved: 0, requests: 0, cost: 0, failedNow: 0 };
  const done = () => skipped + counts.created + counts.updated + counts.resolved;
  let phase: BulkProgress['phase'] = 'index';
  let writeStart = 0;
  let writeRequests = 0;
  let lastProgress = 0;
  const perItem = lookup === 'find' ? 2 : 1;
  let left = queue.length;
  const progress = (force = false): void => {
    if (!o.onProgress) return;
    const now = Date.now();
    if (!force && now - lastProgress < o.progressEveryMs) return;
    lastProgress = now;
    const p: BulkProgress = {
      job,
      phase,
      total,
      done: done(),
      created: counts.created,
      updated: counts.updated,
      failed: failures.length,
      requests: counts.requests,
      elapsedMs: now - started,
    };
    const eta = estimate(left * perItem, writeRequests, now - writeStart, target.rate);
    if (phase === 'done') p.etaMs = 0;
    else if (eta !== undefined) p.etaMs = eta;
    o.onProgress(p);
  };
  const summary = (status: BulkJobSummary['status'], extra: Partial<BulkJobSummary> = {}): BulkJobSummary => ({
    status,
    total,
    done: done(),
    failed: failures.length,
    updatedAt: new Date().toISOString(),
    ...extra,
  });
  const saver = groupCommit(store, job);
  await guardStore(job, () => store.saveJob(job, summary('running')));

  // the index: key -> ids
  const index = new Map<string, string[]>();
  const remember = (key: string, id: string) => {
    const ids = index.get(key);
    if (!ids) index.set(key, [id]);
    else if (!ids.includes(id)) ids.push(id);
  };
  const stopWith = async (error: unknown): Promise<never> => {
    await saver.flush().catch(() => undefined);
    const aborted = signal?.aborted === true;
    const stop = isBulkError(error)
      ? error
      : aborted
        ? new BulkError(API, 'aborted', `job ${job} was aborted; run it again to resume`, {
            job,
            done: done(),
            cause: signal?.reason,
          })
        : new BulkError(API, 'target_failed', `job ${job} stopped: ${describe(error)}; run it again to resume`, {
            job,
            done: done(),
            cause: error,
          });
    await store.saveJob(job, summary('failed', { error: stop.message })).catch(() => undefined);
    throw stop;
  };

  if (pending > 0 && lookup === 'index' && target.index) {
    progress(true);
    try {
      let entries = 0;
      for await (const entry of target.index(callSignal)) {
        if (signal?.aborted) break;
        remember(entry.key, entry.id);
        entries++;
      }
      const pages = Math.max(1, Math.ceil(entries / (costs?.indexPageSize ?? 500)));
      counts.requests += pages;
      counts.cost += pages * (costs?.indexPage ?? 0);
      if (signal?.aborted) throw signal.reason;
    } catch (error) {
      return stopWith(error);
    }
  }

  // the writes, paced by the target's client; pauses at the end of the budget
  let ownLeft = budget ? budget.remaining - counts.cost : Number.POSITIVE_INFINITY;
  let inflightCost = 0;
  let stop: unknown;
  let paused = false;
  let resumeAfter: Date | undefined;
  const affordable = (cost: number): boolean => {
    if (!costs || cost === 0) return true;
    const live = readBudget(target);
    const available = Math.min(ownLeft, live ? live.remaining - inflightCost : Number.POSITIVE_INFINITY);
    if (available >= cost) return true;
    paused = true;
    resumeAfter = live?.resetsAt ?? budget?.resetsAt ?? resumeAfter;
    return false;
  };
  const spend = async <R>(cost: number, fn: () => Promise<R>): Promise<R> => {
    ownLeft -= cost;
    inflightCost += cost;
    counts.requests++;
    writeRequests++;
    try {
      return await fn();
    } finally {
      inflightCost -= cost;
      counts.cost += cost;
    }
  };
  const fail = (
    work: Work<T>,
    action: 'create' | 'update',
    info: { code: string; message: string; status?: number },
  ) => {
    const failure: BulkItemFailure = {
      key: work.record.key,
      index: work.index,
      code: info.code,
      message: info.message,
      action,
    };
    if (info.status !== undefined) failure.status = info.status;
    failures.push(failure);
    counts.failedNow++;
    const state: BulkItemState = { key: work.record.key, status: 'failed', action, error: { ...info } };
    void saver.write([state]).catch(noteStoreFailure);
  };
  const noteStoreFailure = (error: unknown) => {
    stop ??= new BulkError(API, 'store_failed', `job ${job} could not write its checkpoint`, { job, cause: error });
  };
  const deferred: Work<T>[] = [];

  const one = async (work: Work<T>): Promise<void> => {
    const { record } = work;
    // what a failure is reported as: the write the record was heading for
    let action: 'create' | 'update' = work.id === undefined || work.uncertain ? 'create' : 'update';
    try {
      let ids = index.get(record.key) ?? [];
      const find = target.find;
      if (find && (lookup === 'find' || (work.uncertain && ids.length === 0))) {
        if (!affordable(costs?.find ?? 0)) return void deferred.push(work);
        ids = await spend(costs?.find ?? 0, () => find(record.key, callSignal));
        for (const id of ids) remember(record.key, id);
      }
      if (ids.length > 1) {
        return fail(work, action, {
          code: 'ambiguous_key',
          message: `${ids.length} ${target.name} have the key ${record.key} (ids ${ids.join(', ')}); nothing was written`,
        });
      }
      const existing = ids[0];
      if (existing !== undefined && work.uncertain) {
        // the create of an earlier run reached the provider: do not create it again
        counts.resolved++;
        void saver.write([{ key: record.key, status: 'done', action: 'create', id: existing }]).catch(noteStoreFailure);
        return;
      }
      action = existing === undefined ? 'create' : 'update';
      const cost = costs ? costs[action] : 0;
      if (!affordable(cost)) return void deferred.push(work);
      if (existing === undefined) {
        // the intent is on disk before the create leaves
        await saver.write([{ key: record.key, status: 'sent', action: 'create' }]);
        if (stop !== undefined || signal?.aborted) return;
        const id = await spend(cost, () => target.create(record, callSignal));
        remember(record.key, id);
        counts.created++;
        void saver.write([{ key: record.key, status: 'done', action: 'create', id }]).catch(noteStoreFailure);
      } else {
        await spend(cost, () => target.update(existing, record, callSignal));
        counts.updated++;
        void saver.write([{ key: record.key, status: 'done', action: 'update', id: existing }]).catch(noteStoreFailure);
      }
    } catch (error) {
      if (signal?.aborted) throw error;
      if (target.isBudgetError?.(error)) {
        paused = true;
        resumeAfter = readBudget(target)?.resetsAt ?? budget?.resetsAt ?? resumeAfter;
        ownLeft = 0;
        deferred.push(work);
        return;
      }
      const info = target.itemError(error);
      if (info) return fail(work, action, info);
      throw error;
    }
  };

  const runQueue = async (items: Work<T>[]): Promise<void> => {
    phase = 'write';
    writeStart = Date.now();
    writeRequests = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length && stop === undefined && !paused && !signal?.aborted) {
        const work = items[next++] as Work<T>;
        try {
          await one(work);
        } catch (error) {
          stop ??= error;
        }
        left--;
        progress();
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, Math.max(items.length, 1)) }, worker));
    // what no worker took is still to do
    if (next < items.length) deferred.push(...items.slice(next));
  };

  let work = queue;
  for (;;) {
    progress(true);
    await runQueue(work);
    if (stop === undefined && signal?.aborted) stop = signal.reason ?? new Error('aborted');
    if (stop !== undefined) return stopWith(stop);
    try {
      await saver.flush();
    } catch (error) {
      return stopWith(
        new BulkError(API, 'store_failed', `job ${job} could not write its checkpoint`, { job, cause: error }),
      );
    }
    if (!paused || deferred.length === 0) break;
    // out of budget
    const remaining = deferred.splice(0);
    left = remaining.length;
    if (!o.waitForReset || !resumeAfter) {
      phase = 'paused';
      progress(true);
      const after = resumeAfter;
      await guardStore(job, () =>
        store.saveJob(job, summary('paused', after ? { resumeAfter: after.toISOString() } : {})),
      );
      const result = makeResult('paused', remaining.length);
      if (after) result.resumeAfter = after;
      return result;
    }
    phase = 'paused';
    progress(true);
    try {
      await sleepUntil(resumeAfter, signal);
    } catch (error) {
      return stopWith(error);
    }
    paused = false;
    const fresh = readBudget(target);
    ownLeft = fresh ? fresh.remaining : Number.POSITIVE_INFINITY;
    resumeAfter = undefined;
    work = remaining;
  }

  phase = 'done';
  left = 0;
  progress(true);
  await guardStore(job, () => store.saveJob(job, summary('completed')));
  return makeResult('completed', 0);

  function makeResult(status: BulkUpsertResult['status'], remaining: number): BulkUpsertResult {
    return {
      job,
      status,
      plan,
      total,
      done: done(),
      created: counts.created,
      updated: counts.updated,
      resolved: counts.resolved,
      skipped,
      failures: [...failures].sort((a, b) => a.index - b.index),
      remaining,
      requests: counts.requests,
      cost: counts.cost,
      elapsedMs: Date.now() - started,
    };
  }
}

interface Normalized<T> {
  job: string;
  records: Iterable<BulkRecord<T>>;
  target: BulkTarget<T>;
  store: BulkCheckpointStore;
  lookup: 'index' | 'find';
  concurrency: number;
  whenBudgetShort: 'run-what-fits' | 'refuse';
  waitForReset: boolean;
  onPlan: ((plan: BulkPlan) => void) | undefined;
  onProgress: ((progress: BulkProgress) => void) | undefined;
  progressEveryMs: number;
  signal: AbortSignal | undefined;
}

function normalize<T>(options: BulkUpsertOptions<T>): Normalized<T> {
  const invalid = (message: string) => new BulkError(API, 'invalid_options', message);
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  const job = checkJobName(API, options.job);
  const records = options.records;
  if (
    records === null ||
    typeof records !== 'object' ||
    typeof (records as Iterable<unknown>)[Symbol.iterator] !== 'function'
  )
    throw invalid('records must be an iterable of { key, data }');
  const target = options.target;
  if (
    typeof target !== 'object' ||
    target === null ||
    typeof target.create !== 'function' ||
    typeof target.update !== 'function' ||
    typeof target.itemError !== 'function'
  )
    throw invalid('target must have create, update and itemError');
  if (!target.index && !target.find)
    throw invalid('target must have index or find: the job looks records up before creating them');
  const lookup = options.lookup ?? (target.index ? 'index' : 'find');
  if (lookup !== 'index' && lookup !== 'find') throw invalid(`lookup must be 'index' or 'find'`);
  if (lookup === 'index' && !target.index) throw invalid(`lookup 'index' needs a target that can list (index)`);
  if (lookup === 'find' && !target.find) throw invalid(`lookup 'find' needs a target that can find`);
  const concurrency = options.concurrency ?? target.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000)
    throw invalid('concurrency must be an integer from 1 to 1000');
  const whenBudgetShort = options.whenBudgetShort ?? 'run-what-fits';
  if (whenBudgetShort !== 'run-what-fits' && whenBudgetShort !== 'refuse')
    throw invalid(`whenBudgetShort must be 'run-what-fits' or 'refuse'`);
  const progressEveryMs = options.progressEveryMs ?? 250;
  if (!Number.isFinite(progressEveryMs) || progressEveryMs < 0) throw invalid('progressEveryMs must be a number >= 0');
  for (const name of ['onPlan', 'onProgress'] as const)
    if (options[name] !== undefined && typeof options[name] !== 'function') throw invalid(`${name} must be a function`);
  const store = options.checkpoints ?? memoryBulkCheckpoints();
  if (typeof store?.load !== 'function' || typeof store.save !== 'function' || typeof store.saveJob !== 'function')
    throw invalid('checkpoints must be a BulkCheckpointStore');
  return {
    job,
    records,
    target,
    store,
    lookup,
    concurrency,
    whenBudgetShort,
    waitForReset: options.waitForReset === true,
    onPlan: options.onPlan,
    onProgress: options.onProgress,
    progressEveryMs,
    signal: options.signal,
  };
}

function readBudget<T>(target: BulkTarget<T>): BulkBudget | undefined {
  const b = target.budget?.();
  if (!b || !Number.isFinite(b.remaining) || !(b.resetsAt instanceof Date)) return undefined;
  // a snapshot: a target may hand out the object it keeps updating
  return { remaining: b.remaining, resetsAt: new Date(b.resetsAt.getTime()) };
}

/** Time left: by the measured rate once a window's worth is in, never faster than the target's nominal rate. */
function estimate(
  requestsLeft: number,
  sent: number,
  elapsedMs: number,
  rate: { requests: number; intervalMs: number } | undefined,
): number | undefined {
  const nominal = rate ? rate.requests / rate.intervalMs : undefined;
  const mature = sent >= (rate?.requests ?? 20) * 2 && elapsedMs > 0;
  const measured = mature ? sent / elapsedMs : undefined;
  const perMs = nominal !== undefined && measured !== undefined ? Math.min(nominal, measured) : (measured ?? nominal);
  if (perMs === undefined || perMs <= 0) return undefined;
  return Math.round(requestsLeft / perMs);
}

async function guardStore<R>(job: string, fn: () => Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (error) {
    if (isBulkError(error)) throw error;
    throw new BulkError(API, 'store_failed', `job ${job}: the checkpoint store failed`, { job, cause: error });
  }
}

/** Writes checkpoint states in batches: writes asked for while one is running go together in the next. */
function groupCommit(store: BulkCheckpointStore, job: string) {
  let queue: BulkItemState[] = [];
  let running: Promise<void> | undefined;
  const pump = async (): Promise<void> => {
    try {
      while (queue.length > 0) {
        const batch = queue;
        queue = [];
        await store.save(job, batch);
      }
    } finally {
      running = undefined;
    }
  };
  return {
    write(states: BulkItemState[]): Promise<void> {
      queue.push(...states);
      running ??= pump();
      return running;
    },
    async flush(): Promise<void> {
      while (running || queue.length > 0) {
        running ??= pump();
        await running;
      }
    },
  };
}

function sleepUntil(at: Date, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, Math.max(0, at.getTime() - Date.now()));
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
