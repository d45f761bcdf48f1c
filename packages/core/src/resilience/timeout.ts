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
   * `ResilienceError` of code `timeout`, whatever `fn` rejected with. When `fn`
   * resolves to a `Response`, the limit stops there but the caller's signal
   * still reaches its body: aborting cancels the body read, as with `fetch`.
   */
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, options?: TimeoutCallOptions): Promise<T>;
}

/**
 * Builds a {@link Timeout}.
 *
 * @example
 * ```ts
 * const fiveSeconds = timeout(5_000);
 * const res = await fiveSeconds.execute((signal) => fetch('https://api.example.com/v1/items', { signal }));
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
 * The state of one guarded run. It is its own abort listener (`handleEvent`)
 * and is handed to the timer as an argument, so guarding a call allocates no
 * closures: this runs on every attempt.
 */
class Guard {
  readonly controller = new AbortController();
  /** The run's promise has settled: the call's outcome is decided. */
  settled = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Rejects the run's promise. */
  reject: (reason: unknown) => void = noop;
  constructor(
    readonly limitMs: number,
    readonly scope: 'attempt' | 'deadline',
    readonly key: string,
    readonly callerSignal: AbortSignal | undefined,
    readonly emit: ResilienceEventHandler | undefined,
  ) {}
  /** The caller's signal fired: pass its reason on, and give up now if nothing came back yet. */
  handleEvent(): void {
    const reason = this.callerSignal?.reason;
    this.controller.abort(reason);
    this.fail(reason);
  }
  /**
   * Settles the run with `reason` unless it has settled: a function that
   * ignores its signal still leaves the call on time, and what it returns
   * later is discarded.
   */
  fail(reason: unknown): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.callerSignal?.removeEventListener('abort', this);
    this.reject(reason);
  }
}

const noop = (): void => {};

/**
 * A guard whose call resolved to a response keeps forwarding the caller's
 * abort to the signal `fetch` was given, or the body read would outlive the
 * abort. Its listener goes when the response is collected (undici holds the
 * caller's signal for a request the same way).
 */
const bodyGuards = new FinalizationRegistry<Guard>((guard) => {
  guard.callerSignal?.removeEventListener('abort', guard);
});

/** True for a `Response` (of any realm) whose body may still be read. */
function hasBody(value: unknown): value is object {
  return typeof value === 'object' && value !== null && (value as { body?: unknown }).body != null;
}

function expire(guard: Guard): void {
  const { limitMs, key, scope } = guard;
  const deadline = scope === 'deadline';
  guard.emit?.({ type: 'timeout', at: Date.now(), key, scope, limitMs });
  const error = new ResilienceError(
    deadline ? 'deadline' : 'timeout',
    deadline ? 'deadline_exceeded' : 'timeout',
    deadline ? `the deadline passed (${limitMs} ms left when the attempt started)` : `attempt took over ${limitMs} ms`,
    { key, waitMs: limitMs },
  );
  guard.controller.abort(error);
  guard.fail(error);
}

/** A value that arrived after its run gave up: a response body is cancelled, so its connection is let go. */
function discard(value: unknown): void {
  if (hasBody(value)) {
    const body = (value as { body: { cancel?: () => Promise<void> } }).body;
    body.cancel?.().catch(noop);
  }
}

/**
 * Runs `fn` under a limit (`Infinity`: the caller's abort alone). `scope`
 * picks the error: `timeout` for one attempt, `deadline_exceeded` for the
 * overall deadline. One timer and one controller, both released when the run
 * settles. The limit and the caller's abort settle the run themselves, so a
 * function that ignores its signal cannot hold the call past them.
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
  const guard = new Guard(limitMs, scope, key, callerSignal, emit);
  return new Promise<T>((resolve, reject) => {
    guard.reject = reject;
    callerSignal?.addEventListener('abort', guard);
    if (limitMs !== Number.POSITIVE_INFINITY) guard.timer = setTimeout(expire, limitMs, guard);
    let pending: Promise<T>;
    try {
      pending = fn(guard.controller.signal);
    } catch (error) {
      guard.fail(error);
      return;
    }
    // a function typed to return a promise may still hand back a plain value
    if (typeof (pending as { then?: unknown } | null)?.then !== 'function') pending = Promise.resolve(pending);
    pending.then(
      (value) => {
        if (guard.settled) {
          discard(value);
          return;
        }
        guard.settled = true;
        clearTimeout(guard.timer);
        // the limit covers the wait for the headers; the caller's abort covers the body too
        if (callerSignal !== undefined && hasBody(value)) bodyGuards.register(value as object, guard);
        else callerSignal?.removeEventListener('abort', guard);
        resolve(value);
      },
      // after the limit or the caller's abort the run has already failed with their reason: this is a no-op then
      (error: unknown) => guard.fail(error),
    );
  });
}
