import { checkNumber, ResilienceError } from './errors';
import { emitter } from './internal';
import type { ResilienceEventHandler } from './types';

/** Options of {@link timeout}. */
export interface TimeoutOptions {
  /** Receives a `timeout` event when the limit is hit. */
  onEvent?: ResilienceEventHandler;
}

/** Options of one {@link Timeout.execute} call. */
export interface TimeoutCallOptions {
  /** The caller's signal: aborting it aborts this call only. */
  signal?: AbortSignal;
  /** The key reported in events. @default '' */
  key?: string;
}

/** A time limit for one call, usable on its own or as `resilientFetch`'s per-attempt timeout. */
export interface Timeout {
  /** The limit, in milliseconds. */
  readonly ms: number;
  /**
   * Runs `fn` with a signal that aborts after `ms` (or when the caller's signal
   * aborts). When the limit fires first, the call rejects with a
   * `ResilienceError` of code `timeout`, whatever `fn` rejected with.
   */
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, options?: TimeoutCallOptions): Promise<T>;
}

/**
 * Builds a {@link Timeout}.
 *
 * @example
 * ```ts
 * const fiveSeconds = timeout(5_000);
 * const res = await fiveSeconds.execute((signal) => fetch(url, { signal }));
 * ```
 */
export function timeout(ms: number, options: TimeoutOptions = {}): Timeout {
  checkNumber('timeout', 'ms', ms, 1, 2_147_483_647);
  const emit = emitter(options.onEvent);
  return {
    ms,
    execute: (fn, call = {}) => runWithTimeout(fn, ms, 'attempt', call.key ?? '', call.signal, emit),
  };
}

/**
 * Runs `fn` under a limit. `scope` picks the error: `timeout` for one attempt,
 * `deadline_exceeded` for the overall deadline. One timer and one controller,
 * both released when `fn` settles.
 * @internal
 */
export function runWithTimeout<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  limitMs: number,
  scope: 'attempt' | 'deadline',
  key: string,
  callerSignal: AbortSignal | undefined,
  emit: ResilienceEventHandler | undefined,
): Promise<T> {
  if (callerSignal?.aborted) return Promise.reject(callerSignal.reason);
  const controller = new AbortController();
  let timedOut = false;
  const onCallerAbort = () => controller.abort(callerSignal?.reason);
  callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    const deadline = scope === 'deadline';
    emit?.({ type: 'timeout', at: Date.now(), key, scope, limitMs });
    controller.abort(
      new ResilienceError(
        deadline ? 'deadline' : 'timeout',
        deadline ? 'deadline_exceeded' : 'timeout',
        deadline
          ? `the deadline passed (${limitMs} ms left when the attempt started)`
          : `attempt took over ${limitMs} ms`,
        { key, waitMs: limitMs },
      ),
    );
  }, limitMs);
  const done = () => {
    clearTimeout(timer);
    callerSignal?.removeEventListener('abort', onCallerAbort);
  };
  let pending: Promise<T>;
  try {
    pending = fn(controller.signal);
  } catch (error) {
    done();
    return Promise.reject(error);
  }
  return pending.then(
    (value) => {
      done();
      return value;
    },
    (error: unknown) => {
      done();
      throw timedOut ? controller.signal.reason : error;
    },
  );
}
