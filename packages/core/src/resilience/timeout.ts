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
  timedOut = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  constructor(
    readonly limitMs: number,
    readonly scope: 'attempt' | 'deadline',
    readonly key: string,
    readonly callerSignal: AbortSignal | undefined,
    readonly emit: ResilienceEventHandler | undefined,
  ) {}
  /** The caller's signal fired: pass its reason on. */
  handleEvent(): void {
    this.controller.abort(this.callerSignal?.reason);
  }
}

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
  guard.timedOut = true;
  const { limitMs, key, scope } = guard;
  const deadline = scope === 'deadline';
  guard.emit?.({ type: 'timeout', at: Date.now(), key, scope, limitMs });
  guard.controller.abort(
    new ResilienceError(
      deadline ? 'deadline' : 'timeout',
      deadline ? 'deadline_exceeded' : 'timeout',
      deadline
        ? `the deadline passed (${limitMs} ms left when the attempt started)`
        : `attempt took over ${limitMs} ms`,
      { key, waitMs: limitMs },
    ),
  );
}

/**
 * Runs `fn` under a limit. `scope` picks the error: `timeout` for one attempt,
 * `deadline_exceeded` for the overall deadline. One timer and one controller,
 * both released when `fn` settles.
 * @internal
 */
export async function runWithTimeout<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  limitMs: number,
  scope: 'attempt' | 'deadline',
  key: string,
  callerSignal: AbortSignal | undefined,
  emit: ResilienceEventHandler | undefined,
): Promise<T> {
  if (callerSignal?.aborted) throw callerSignal.reason;
  const guard = new Guard(limitMs, scope, key, callerSignal, emit);
  callerSignal?.addEventListener('abort', guard);
  guard.timer = setTimeout(expire, limitMs, guard);
  let bodyFollows = false;
  try {
    const value = await fn(guard.controller.signal);
    // the limit covers the wait for the headers; the caller's abort covers the body too
    bodyFollows = callerSignal !== undefined && hasBody(value);
    if (bodyFollows) bodyGuards.register(value as object, guard);
    return value;
  } catch (error) {
    throw guard.timedOut ? guard.controller.signal.reason : error;
  } finally {
    clearTimeout(guard.timer);
    if (!bodyFollows) callerSignal?.removeEventListener('abort', guard);
  }
}
