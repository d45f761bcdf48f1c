import type { SqlExecutor } from '../stores/sql';
import {
  IdempotencyCachedError,
  IdempotencyConflictError,
  IdempotencyError,
  IdempotencyInProgressError,
} from './errors';
import { decodeError, decodeResult, encodeError, encodeResult, serializeError } from './serialize';
import {
  type ClaimOutcome,
  fingerprintsCompatible,
  type IdempotencyRecord,
  type IdempotencyStore,
  type TransactionalIdempotencyStore,
} from './store';

/** How a call that finds the key held by another call waits for that call's result. */
export interface IdempotencyWaitOptions {
  /**
   * Longest time to wait, in milliseconds, before giving up with an
   * {@link IdempotencyInProgressError} (`wait_timeout`).
   * @default the lease
   */
  timeout?: number;
  /**
   * First delay between polls of the store, in milliseconds; it doubles after each poll.
   * @default 25
   */
  initialDelay?: number;
  /**
   * Largest delay between polls, in milliseconds.
   * @default 1000
   */
  maxDelay?: number;
}

/** Options of {@link idempotent}. */
export interface IdempotentOptions<Input> {
  /** Where claims and results live: `memoryIdempotencyStore()` or `sqlIdempotencyStore(db)`. */
  store: IdempotencyStore;
  /** Derives the idempotency key from the input: a non-empty string of at most 1024 characters. */
  key: (input: Input) => string;
  /**
   * Derives a fingerprint of the request (e.g. a hash of the body). A later
   * call with the same key and a different fingerprint is an
   * {@link IdempotencyConflictError} instead of a replay.
   * @default no fingerprint: any call with the same key replays
   */
  fingerprint?: (input: Input) => string;
  /**
   * How long a claim holds the key, in milliseconds. A holder that has not
   * finished by then is presumed dead and the next call takes the key over,
   * so pick a lease comfortably longer than the function ever runs.
   * @default 60_000 (one minute)
   */
  lease?: number;
  /**
   * How long a finished key is remembered, in milliseconds; after that the
   * record is purged and the same key runs the function again.
   * @default 604_800_000 (seven days: longer than providers' webhook retry windows)
   */
  retention?: number;
  /**
   * Whether a failure is stored and replayed (as an {@link IdempotencyCachedError})
   * instead of releasing the key for a retry. `true` caches every error; a
   * function decides per error.
   * @default false
   */
  cacheErrors?: boolean | ((error: unknown) => boolean);
  /**
   * When the key is held by a running call: `false` throws an
   * {@link IdempotencyInProgressError} at once; `true` or an object polls the
   * store with exponential backoff until that call finishes (its result is
   * returned), fails (this call claims the key and runs), or the wait times out.
   * @default false
   */
  wait?: boolean | IdempotencyWaitOptions;
  /**
   * Plain mode. For transactional mode (the function's SQL writes and the
   * stored result commit together) pass `transactional: true` with a SQL
   * store: see {@link TransactionalIdempotentOptions}.
   * @default false
   */
  transactional?: false;
  /**
   * Purge expired records in the background at most once per this many
   * milliseconds (on the first call, then on calls after the interval); `false`
   * leaves purging to you (`store.purgeExpired()`). Background purge errors are ignored.
   * @default 3_600_000 (one hour)
   */
  purgeInterval?: number | false;
  /**
   * The clock, in milliseconds since the epoch. Stores read no clock of their own.
   * @default () => Date.now()
   */
  now?: () => number;
}

/** {@link IdempotentOptions} for transactional mode: a store with transactions, `transactional: true`. */
export interface TransactionalIdempotentOptions<Input>
  extends Omit<IdempotentOptions<Input>, 'store' | 'transactional'> {
  /** A store that can run the function in a transaction: `sqlIdempotencyStore(db)`. */
  store: TransactionalIdempotencyStore;
  /**
   * Run the function and the completion record in one SQL transaction: the
   * function receives `context.tx`, and its writes through it commit together
   * with the stored result, or not at all.
   */
  transactional: true;
}

/** What the wrapped function receives besides its input. */
export interface IdempotencyContext {
  /** The idempotency key of this call. */
  key: string;
  /** True when this call took the key over from a holder whose lease expired (the function may have run before). */
  takeover: boolean;
  /** Until when this call holds the key (milliseconds since the epoch), as claimed. */
  leaseUntil: number;
  /**
   * Extends this call's lease to `ms` (default: the `lease` option) from now,
   * for work that runs longer than planned; resolves to the new end of the
   * lease. Rejects with `lease_lost` when another call already took the key over.
   */
  extendLease(ms?: number): Promise<number>;
}

/** What the wrapped function receives in transactional mode. */
export interface TransactionalIdempotencyContext extends IdempotencyContext {
  /** The transaction that also records the result: write through it to commit together. */
  tx: SqlExecutor;
}

const DEFAULTS = {
  lease: 60_000,
  retention: 7 * 24 * 60 * 60 * 1000,
  purgeInterval: 60 * 60 * 1000,
  waitInitialDelay: 25,
  waitMaxDelay: 1000,
} as const;

const MAX_KEY_LENGTH = 1024;

/** @internal */
export interface ResolvedWait {
  timeout: number;
  initialDelay: number;
  maxDelay: number;
}

/** The options of {@link idempotent}, validated and defaulted. @internal */
export interface Resolved<Input> {
  store: IdempotencyStore;
  key: (input: Input) => string;
  fingerprint: ((input: Input) => string) | undefined;
  lease: number;
  retention: number;
  cacheErrors: (error: unknown) => boolean;
  wait: ResolvedWait | undefined;
  transactional: boolean;
  purgeInterval: number | false;
  now: () => number;
}

function optionsError(message: string): IdempotencyError<'invalid_options'> {
  return new IdempotencyError('idempotent', 'invalid_options', message);
}

/** The longest duration accepted (a century), so deadlines stay valid dates in every store. */
const MAX_DURATION = 100 * 365.25 * 24 * 60 * 60 * 1000;

function duration(name: string, value: unknown, fallback: number, { allowZero = false } = {}): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    (!allowZero && value === 0) ||
    value > MAX_DURATION
  ) {
    throw optionsError(
      `${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds, at most 100 years, got ${String(value)}`,
    );
  }
  return value;
}

const STORE_METHODS = ['claim', 'complete', 'release', 'extend', 'get', 'purgeExpired'] as const;

/** Validates the options and returns a new, fully defaulted object (the caller's is never touched). */
function resolveOptions<Input>(options: IdempotentOptions<Input>): Resolved<Input> {
  if (typeof options !== 'object' || options === null) throw optionsError('options must be an object');
  const { store } = options;
  if (typeof store !== 'object' || store === null) throw optionsError('store is required (an IdempotencyStore)');
  for (const m of STORE_METHODS) {
    if (typeof store[m] !== 'function') throw optionsError(`store is not an IdempotencyStore: ${m}() is missing`);
  }
  if (typeof options.key !== 'function') throw optionsError('key must be a function (input) => string');
  if (options.fingerprint !== undefined && typeof options.fingerprint !== 'function') {
    throw optionsError('fingerprint must be a function (input) => string');
  }
  const lease = duration('lease', options.lease, DEFAULTS.lease);
  const retention = duration('retention', options.retention, DEFAULTS.retention, { allowZero: true });

  const { cacheErrors = false } = options;
  if (typeof cacheErrors !== 'boolean' && typeof cacheErrors !== 'function') {
    throw optionsError('cacheErrors must be a boolean or a function (error) => boolean');
  }

  let wait: ResolvedWait | undefined;
  const w = options.wait ?? false;
  if (w === true || (typeof w === 'object' && w !== null)) {
    const o: IdempotencyWaitOptions = w === true ? {} : w;
    wait = {
      timeout: duration('wait.timeout', o.timeout, lease),
      initialDelay: duration('wait.initialDelay', o.initialDelay, DEFAULTS.waitInitialDelay),
      maxDelay: duration('wait.maxDelay', o.maxDelay, DEFAULTS.waitMaxDelay),
    };
    if (wait.maxDelay < wait.initialDelay) throw optionsError('wait.maxDelay must be at least wait.initialDelay');
  } else if (w !== false) {
    throw optionsError('wait must be a boolean or { timeout?, initialDelay?, maxDelay? }');
  }

  const transactional: unknown = (options as { transactional?: unknown }).transactional ?? false;
  if (typeof transactional !== 'boolean') throw optionsError('transactional must be a boolean');
  if (transactional && typeof (store as Partial<TransactionalIdempotencyStore>).transaction !== 'function') {
    throw optionsError('transactional: true needs a store with transaction() (sqlIdempotencyStore)');
  }

  const purgeInterval =
    options.purgeInterval === false
      ? false
      : duration('purgeInterval', options.purgeInterval, DEFAULTS.purgeInterval, { allowZero: true });

  if (options.now !== undefined && typeof options.now !== 'function') throw optionsError('now must be a function');

  return {
    store,
    key: options.key,
    fingerprint: options.fingerprint,
    lease,
    retention,
    cacheErrors: typeof cacheErrors === 'function' ? cacheErrors : () => cacheErrors,
    wait,
    transactional,
    purgeInterval,
    now: options.now ?? (() => Date.now()),
  };
}

function deriveKey<Input>(fn: (input: Input) => string, input: Input): string {
  let key: unknown;
  try {
    key = fn(input);
  } catch (cause) {
    throw new IdempotencyError('idempotent', 'invalid_key', 'the key function threw', { cause });
  }
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new IdempotencyError(
      'idempotent',
      'invalid_key',
      `the key function must return a non-empty string of at most ${MAX_KEY_LENGTH} characters, got ${
        typeof key === 'string' ? `a string of length ${key.length}` : typeof key
      }`,
    );
  }
  return key;
}

function deriveFingerprint<Input>(fn: ((input: Input) => string) | undefined, input: Input, key: string) {
  if (fn === undefined) return null;
  let fingerprint: unknown;
  try {
    fingerprint = fn(input);
  } catch (cause) {
    throw new IdempotencyError('idempotent', 'invalid_fingerprint', 'the fingerprint function threw', { key, cause });
  }
  if (typeof fingerprint !== 'string') {
    throw new IdempotencyError(
      'idempotent',
      'invalid_fingerprint',
      `the fingerprint function must return a string, got ${typeof fingerprint}`,
      { key },
    );
  }
  return fingerprint;
}

function leaseLost(key: string, during: 'complete' | 'extend'): IdempotencyError<'lease_lost'> {
  return new IdempotencyError(
    'idempotent',
    'lease_lost',
    `the lease on key ${JSON.stringify(key)} expired and another call took the key over${
      during === 'complete' ? ' before this one finished; its result was not stored (use a longer lease)' : ''
    }`,
    { key },
  );
}

/** The outcome a finished record replays: its result, or the typed error for a stored failure. */
function replay(record: IdempotencyRecord): unknown {
  if (record.state === 'succeeded') return decodeResult(record.value ?? '{}');
  const original = decodeError(record.value);
  if (original.name === 'IdempotencyError' && original.code === 'not_serializable') {
    throw new IdempotencyError('idempotent', 'not_serializable', original.message, { key: record.key });
  }
  throw new IdempotencyCachedError(record.key, original);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One call, split into its steps, for callers that put layers of their own
 * between them (the inbox worker runs a heartbeat between the claim and the
 * transaction). `idempotent()` is these steps in order. @internal
 */
export interface IdempotencySteps<Input> {
  /** The options in force, validated and defaulted. */
  readonly options: Readonly<Resolved<Input>>;
  /**
   * Claims the key of `input` (waiting when `wait` says so): `claimed` with the
   * run's context, or `finished` with the record a replay returns. Throws
   * {@link IdempotencyInProgressError} while another call holds the key, and
   * {@link IdempotencyConflictError} for a different fingerprint.
   */
  claim(input: Input): Promise<KeyClaim>;
  /** Runs `fn` under a claimed key and stores its result (or releases the key when it throws). */
  run<Result>(claim: HeldKey, fn: (context: IdempotencyContext) => Result | Promise<Result>): Promise<Awaited<Result>>;
  /**
   * Runs `fn` in the store's transaction and stores its result in the same
   * transaction. Inside it, `context.extendLease` goes through the transaction
   * too, so it never waits for a second connection.
   */
  runInTransaction<Result>(
    claim: HeldKey,
    fn: (context: TransactionalIdempotencyContext) => Result | Promise<Result>,
  ): Promise<Awaited<Result>>;
}

/** A key this call holds. @internal */
export interface HeldKey {
  state: 'claimed';
  context: IdempotencyContext;
  token: string;
}

/** The outcome of {@link IdempotencySteps.claim}. @internal */
export type KeyClaim = HeldKey | { state: 'finished'; record: IdempotencyRecord };

/** Replays a finished record: its result, or throws its stored failure. @internal */
export const replayRecord: (record: IdempotencyRecord) => unknown = (record) => replay(record);

/** Builds the steps of an idempotent call from its options. @internal */
export function idempotencySteps<Input>(
  options: IdempotentOptions<Input> | TransactionalIdempotentOptions<Input>,
): IdempotencySteps<Input> {
  const o = resolveOptions(options as IdempotentOptions<Input>);
  const { store } = o;
  let lastPurge = Number.NEGATIVE_INFINITY;

  function maybePurge(now: number): void {
    if (o.purgeInterval === false || now - lastPurge < o.purgeInterval) return;
    lastPurge = now;
    store.purgeExpired(now).catch(() => {
      // best effort: the next interval tries again; call store.purgeExpired() yourself to see errors
    });
  }

  // After fn failed, the caller must see fn's error, not a store error: if the
  // store cannot record the failure or the release, the lease frees the key.
  async function storeFailureQuietly(key: string, token: string, error: unknown): Promise<void> {
    const now = o.now();
    const value = encodeError(serializeError(error));
    await store.complete({ key, token, state: 'failed', value, now, expiresAt: now + o.retention }).catch(() => false);
  }

  async function releaseQuietly(key: string, token: string): Promise<void> {
    await store.release({ key, token }).catch(() => false);
  }

  async function extendLease(on: IdempotencyStore, key: string, token: string, ms: number = o.lease): Promise<number> {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || ms > MAX_DURATION) {
      throw new IdempotencyError(
        'idempotent',
        'invalid_options',
        `extendLease(ms) needs a positive number of milliseconds, at most 100 years, got ${String(ms)}`,
        { key },
      );
    }
    const now = o.now();
    const leaseUntil = now + ms;
    if (!(await on.extend({ key, token, now, leaseUntil, expiresAt: leaseUntil + o.retention }))) {
      throw leaseLost(key, 'extend');
    }
    return leaseUntil;
  }

  /** Whether to cache this failure; a throwing `cacheErrors` function counts as "no". */
  function shouldCache(error: unknown): boolean {
    try {
      return o.cacheErrors(error) === true;
    } catch {
      return false;
    }
  }

  async function run<Result>(
    held: HeldKey,
    fn: (context: IdempotencyContext) => Result | Promise<Result>,
  ): Promise<Awaited<Result>> {
    const { context, token } = held;
    const { key } = context;
    let result: Awaited<Result>;
    try {
      result = await fn(context);
    } catch (error) {
      if (shouldCache(error)) await storeFailureQuietly(key, token, error);
      else await releaseQuietly(key, token);
      throw error;
    }
    let value: string;
    try {
      value = encodeResult(result, key);
    } catch (error) {
      // fn's side effects happened: mark the key failed rather than let a retry repeat them.
      await storeFailureQuietly(key, token, error);
      throw error;
    }
    const now = o.now();
    const stored = await store.complete({ key, token, state: 'succeeded', value, now, expiresAt: now + o.retention });
    if (!stored) throw leaseLost(key, 'complete');
    return result;
  }

  async function runInTransaction<Result>(
    held: HeldKey,
    fn: (context: TransactionalIdempotencyContext) => Result | Promise<Result>,
  ): Promise<Awaited<Result>> {
    const { context, token } = held;
    const { key } = context;
    let lost = false;
    let unserializable = false;
    try {
      return await (store as TransactionalIdempotencyStore).transaction(async (tx, scoped) => {
        const result: Awaited<Result> = await fn({
          ...context,
          // through the transaction: a second connection may not exist while it is open
          extendLease: (ms) => extendLease(scoped, key, token, ms),
          tx,
        });
        let value: string;
        try {
          value = encodeResult(result, key);
        } catch (error) {
          unserializable = true;
          throw error;
        }
        const now = o.now();
        const stored = await scoped.complete({
          key,
          token,
          state: 'succeeded',
          value,
          now,
          expiresAt: now + o.retention,
        });
        if (!stored) {
          lost = true;
          throw leaseLost(key, 'complete'); // rolls back fn's writes: the new holder's run is the one that counts
        }
        return result;
      });
    } catch (error) {
      if (!lost) {
        // Nothing committed: release for a retry, or store the failure when asked to.
        if (!unserializable && shouldCache(error)) await storeFailureQuietly(key, token, error);
        else await releaseQuietly(key, token);
      }
      throw error;
    }
  }

  async function claim(input: Input): Promise<KeyClaim> {
    const key = deriveKey(o.key, input);
    const fingerprint = deriveFingerprint(o.fingerprint, input, key);
    const started = o.now();
    maybePurge(started);
    let delay = o.wait?.initialDelay ?? 0;
    let slept = 0; // bounds the wait even under an injected clock that does not move

    for (;;) {
      const now = o.now();
      const token = globalThis.crypto.randomUUID();
      const leaseUntil = now + o.lease;
      const outcome: ClaimOutcome = await store.claim({
        key,
        fingerprint,
        token,
        now,
        leaseUntil,
        expiresAt: leaseUntil + o.retention,
      });
      if (outcome.claimed) {
        const context: IdempotencyContext = {
          key,
          takeover: outcome.takeover,
          leaseUntil,
          extendLease: (ms) => extendLease(store, key, token, ms),
        };
        return { state: 'claimed', context, token };
      }
      const { record } = outcome;
      if (!fingerprintsCompatible(record.fingerprint, fingerprint)) throw new IdempotencyConflictError(key);
      if (record.state !== 'running') return { state: 'finished', record };
      if (o.wait === undefined) throw new IdempotencyInProgressError('in_progress', key, record.leaseUntil);
      const remaining = Math.min(started + o.wait.timeout - o.now(), o.wait.timeout - slept);
      if (remaining <= 0) throw new IdempotencyInProgressError('wait_timeout', key, record.leaseUntil);
      const pause = Math.min(delay, remaining);
      await sleep(pause);
      slept += pause;
      delay = Math.min(delay * 2, o.wait.maxDelay);
    }
  }

  return { options: o, claim, run, runInTransaction };
}

/**
 * Makes an async function idempotent: the first call with a key runs it and
 * stores its result, and later calls with the same key return that result
 * without running it again, across processes when the store is shared.
 *
 * - The first call claims the key atomically, with a lease; a call arriving
 *   while it runs gets an {@link IdempotencyInProgressError}, or waits with `wait`.
 * - A holder that dies is taken over when its lease expires; a holder that
 *   outlives its lease cannot store its result over the new holder's (the
 *   claim token fences it) and gets `lease_lost`.
 * - When the function throws, the key is released so a retry runs it again
 *   (unless `cacheErrors`). Results must be plain JSON data, or the call fails
 *   with `not_serializable` (and the key is marked failed, so side effects
 *   are not repeated; in transactional mode it is released, as nothing committed).
 * - `transactional: true` (SQL store): the function gets `context.tx` and its
 *   writes commit together with the stored result, or not at all.
 *
 * @example
 * ```ts
 * import { idempotent } from '@ballast/core/idempotency';
 * import { memoryIdempotencyStore } from '@ballast/core/stores/memory';
 *
 * const charge = idempotent(
 *   async (req: { orderId: string; cents: number }) => ({ charged: req.cents }),
 *   { store: memoryIdempotencyStore(), key: (req) => `charge:${req.orderId}`, lease: 30_000 },
 * );
 * await charge({ orderId: 'o_1', cents: 500 }); // runs
 * await charge({ orderId: 'o_1', cents: 500 }); // replays { charged: 500 }
 * ```
 */
export function idempotent<Input, Result>(
  fn: (input: Input, context: TransactionalIdempotencyContext) => Promise<Result>,
  options: TransactionalIdempotentOptions<Input>,
): (input: Input) => Promise<Result>;
export function idempotent<Input, Result>(
  fn: (input: Input, context: IdempotencyContext) => Result | Promise<Result>,
  options: IdempotentOptions<Input>,
): (input: Input) => Promise<Awaited<Result>>;
export function idempotent<Input, Result>(
  fn: (input: Input, context: TransactionalIdempotencyContext) => Result | Promise<Result>,
  options: IdempotentOptions<Input> | TransactionalIdempotentOptions<Input>,
): (input: Input) => Promise<Awaited<Result>> {
  if (typeof fn !== 'function') throw optionsError('fn must be a function');
  const steps = idempotencySteps(options);
  const transactional = steps.options.transactional;
  return async function idempotentCall(input: Input): Promise<Awaited<Result>> {
    const claimed = await steps.claim(input);
    if (claimed.state === 'finished') return replay(claimed.record) as Awaited<Result>;
    return transactional
      ? steps.runInTransaction(claimed, (context) => fn(input, context))
      : steps.run(claimed, (context) => fn(input, context as TransactionalIdempotencyContext));
  };
}
