import type { RateLimiter } from '../types';
import { isRateLimitError, RateLimitError } from './errors';
import { optionalFunction, optionsObject, positiveInteger } from './validate';

const API = 'batch';

/** What a chunk function receives besides its items. */
export interface BatchChunkContext {
  /** The chunk's position, 0-based. */
  chunk: number;
  /** Index in `items` of the chunk's first item. */
  offset: number;
  /** The batch's signal, when one was given: pass it on to the work. */
  signal: AbortSignal | undefined;
}

/** Progress after a chunk settles. */
export interface BatchProgress {
  /** Items whose chunk has settled (succeeded or failed). */
  done: number;
  /** All items. */
  total: number;
  /** Items that failed so far. */
  failed: number;
  /** The chunk that just settled. */
  chunk: number;
}

/** The fate of one item, in the shape of `Promise.allSettled`, plus `skipped` for work that never started. */
export type BatchOutcome<R> =
  | { status: 'fulfilled'; value: R }
  | { status: 'rejected'; reason: unknown }
  | { status: 'skipped'; reason: unknown };

/** One item that did not succeed. */
export interface BatchFailure<I> {
  /** Its index in `items`. */
  index: number;
  item: I;
  /** `rejected`: its chunk ran and failed; `skipped`: it never ran (aborted, or stopped after an error). */
  status: 'rejected' | 'skipped';
  reason: unknown;
}

/** What `batch` resolves with: every item accounted for, none lost. */
export interface BatchReport<I, R> {
  /** One outcome per item, in input order. */
  outcomes: BatchOutcome<R>[];
  /** The items that did not succeed, in input order, with their errors: retry exactly these. */
  failures: BatchFailure<I>[];
  /** True when every item succeeded. */
  ok: boolean;
}

/** Options of {@link batch}. */
export interface BatchOptions<I> {
  /**
   * Items per chunk: each chunk is one call of `fn` (one bulk request).
   * @default 1
   */
  size?: number;
  /**
   * Chunks in flight at once.
   * @default 4
   */
  concurrency?: number;
  /**
   * Each chunk runs through this limiter's `schedule` (and so waits for its budget).
   * @default none (chunks start as soon as a lane is free)
   */
  limiter?: RateLimiter;
  /** The limiter key of every chunk. @default the limiter's default key */
  key?: string;
  /**
   * Budget units a chunk costs.
   * @default 1
   */
  weight?: number | ((chunk: readonly I[]) => number);
  /** Called after each chunk settles. Must not throw (errors it throws are ignored). */
  onProgress?: (progress: BatchProgress) => void;
  /** Stops starting chunks; those not started are reported as `skipped`. */
  signal?: AbortSignal;
  /**
   * After the first failed chunk, start no more: the rest are reported as `skipped` with that error.
   * @default false
   */
  stopOnError?: boolean;
}

/**
 * Runs bulk work in chunks of `size` items, `concurrency` chunks at a time,
 * each chunk through `limiter` when one is given. `fn` gets a chunk and
 * returns one result per item, in the chunk's order.
 *
 * Never rejects for the work's own failures: it resolves with an outcome per
 * item in input order and the list of failures (a failed chunk fails each of
 * its items with the chunk's error), so nothing is lost and the failures can
 * be retried as they are. Rejects only for bad arguments.
 *
 * @example
 * ```ts
 * const report = await batch(personIds, async (ids) => fetchPersons(ids), {
 *   size: 100,
 *   concurrency: 2,
 *   limiter,
 *   onProgress: ({ done, total }) => console.log(`${done}/${total}`),
 * });
 * for (const failure of report.failures) console.error(failure.index, failure.reason);
 * ```
 */
export async function batch<I, R>(
  items: Iterable<I>,
  fn: (chunk: I[], context: BatchChunkContext) => Promise<readonly R[]>,
  options?: BatchOptions<I>,
): Promise<BatchReport<I, R>> {
  if (items === null || typeof (items as Partial<Iterable<I>> | undefined)?.[Symbol.iterator] !== 'function') {
    throw new RateLimitError(API, 'invalid_argument', 'items must be an iterable (an array, a Set, a generator)');
  }
  if (typeof fn !== 'function') throw new RateLimitError(API, 'invalid_argument', 'fn must be a function');
  const o = optionsObject(API, options, false);
  const size = positiveInteger(API, 'size', o.size ?? 1, false);
  const concurrency = positiveInteger(API, 'concurrency', o.concurrency ?? 4, false);
  const limiter = o.limiter as RateLimiter | undefined;
  if (limiter !== undefined && typeof limiter?.schedule !== 'function') {
    throw new RateLimitError(API, 'invalid_options', 'limiter must be a rate limiter (an object with schedule)');
  }
  if (o.key !== undefined && (typeof o.key !== 'string' || o.key === '')) {
    throw new RateLimitError(API, 'invalid_options', 'key must be a non-empty string');
  }
  const weight = o.weight as BatchOptions<I>['weight'];
  if (weight !== undefined && typeof weight !== 'function') positiveInteger(API, 'weight', weight, false);
  const onProgress = optionalFunction<(progress: BatchProgress) => void>(API, 'onProgress', o.onProgress);
  const signal = o.signal as AbortSignal | undefined;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new RateLimitError(API, 'invalid_options', 'signal must be an AbortSignal');
  }
  if (o.stopOnError !== undefined && typeof o.stopOnError !== 'boolean') {
    throw new RateLimitError(API, 'invalid_options', 'stopOnError must be a boolean');
  }
  const stopOnError = (o.stopOnError as boolean | undefined) ?? false;
  const key = o.key as string | undefined;

  const list = Array.from(items);
  const outcomes: Array<BatchOutcome<R> | undefined> = new Array(list.length);
  const chunkCount = Math.ceil(list.length / size);
  let next = 0;
  let done = 0;
  let failed = 0;
  let stopReason: { reason: unknown } | undefined;

  const settleChunk = (offset: number, length: number, outcome: (i: number) => BatchOutcome<R>): void => {
    for (let i = 0; i < length; i++) {
      const result = outcome(i);
      outcomes[offset + i] = result;
      if (result.status !== 'fulfilled') failed++;
    }
  };

  async function runChunk(index: number): Promise<void> {
    const offset = index * size;
    const chunk = list.slice(offset, offset + size);
    const work = (): Promise<readonly R[]> => fn(chunk, { chunk: index, offset, signal });
    try {
      let results: readonly R[];
      if (limiter === undefined) results = await work();
      else {
        const cost = typeof weight === 'function' ? weight(chunk) : (weight ?? 1);
        results = await limiter.schedule(work, {
          ...(key === undefined ? {} : { key }),
          ...(cost === 1 ? {} : { weight: cost }),
          ...(signal === undefined ? {} : { signal }),
        });
      }
      if (!Array.isArray(results) || results.length !== chunk.length) {
        throw new RateLimitError(
          API,
          'invalid_result',
          `chunk ${index} returned ${Array.isArray(results) ? `${results.length} results` : typeof results} for ${chunk.length} items`,
        );
      }
      settleChunk(offset, chunk.length, (i) => ({ status: 'fulfilled', value: results[i] as R }));
    } catch (reason) {
      // a chunk the limiter dropped before it ran (its signal aborted) never started
      const status = isRateLimitError(reason) && reason.code === 'aborted' ? 'skipped' : 'rejected';
      settleChunk(offset, chunk.length, () => ({ status, reason }));
      if (stopOnError && status === 'rejected') stopReason ??= { reason };
    }
    done += chunk.length;
    if (onProgress !== undefined) {
      try {
        onProgress({ done, total: list.length, failed, chunk: index });
      } catch {
        // a progress callback must not break the batch
      }
    }
  }

  async function lane(): Promise<void> {
    while (next < chunkCount && stopReason === undefined && !signal?.aborted) await runChunk(next++);
  }

  await Promise.all(Array.from({ length: Math.min(concurrency, chunkCount) }, lane));

  // one outcome shared by every item that never started, made only when there is one
  let skipped: BatchOutcome<R> | undefined;
  const skip = (): BatchOutcome<R> => {
    skipped ??= {
      status: 'skipped',
      reason:
        stopReason?.reason ??
        new RateLimitError(API, 'aborted', 'the batch was aborted before this item started', {
          cause: signal?.reason,
        }),
    };
    return skipped;
  };
  const report: BatchReport<I, R> = { outcomes: [], failures: [], ok: true };
  for (let i = 0; i < list.length; i++) {
    const outcome = outcomes[i] ?? skip();
    report.outcomes.push(outcome);
    if (outcome.status !== 'fulfilled') {
      report.ok = false;
      report.failures.push({ index: i, item: list[i] as I, status: outcome.status, reason: outcome.reason });
    }
  }
  return report;
}
