/**
 * The worker's background loops: the sweep that looks in the inbox for due
 * events the queue did not bring, and the retry of a queue subscription that
 * failed. Both keep going through failures (reporting them) until stopped:
 * a store that is down at start only delays processing.
 */

/** A periodic sweep. */
export interface SweepLoop {
  /** Runs a pass after `delayMs` (then one every `intervalMs`, sooner while passes find work). */
  schedule(delayMs: number): void;
  /** Cancels the next pass and waits for the one running (it may be claiming events). */
  stop(): Promise<void>;
}

/**
 * Runs `pass` every `intervalMs`; a pass that claimed something and left
 * capacity (`busy()` false) is followed at once by another. A failing pass is
 * reported and retried on the interval.
 */
export function sweepLoop(options: {
  intervalMs: number | false;
  pass: () => Promise<number>;
  busy: () => boolean;
  report: (error: unknown) => void;
}): SweepLoop {
  const { intervalMs, pass, busy, report } = options;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const schedule = (delayMs: number) => {
    if (intervalMs === false || stopped) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      const current: Promise<void> = pass()
        .then(
          (claimed) => schedule(claimed > 0 && !busy() ? 0 : intervalMs),
          (error: unknown) => {
            report(error);
            schedule(intervalMs);
          },
        )
        .finally(() => {
          if (running === current) running = undefined;
        });
      running = current;
    }, delayMs);
    (timer as { unref?: () => void }).unref?.();
  };
  return {
    schedule(delayMs) {
      stopped = false;
      schedule(delayMs);
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}

/** Delays between attempts to subscribe to the queue: doubling from 500 ms up to 30 s. */
export const START_RETRY = Object.freeze({ initialDelayMs: 500, maxDelayMs: 30_000 });

/**
 * Calls `connect` until it succeeds or `stopped()` turns true, waiting with
 * doubling delays between failures and reporting each failure. Resolves with
 * the result, or `undefined` once stopped. `wake` cuts a wait short (on stop).
 */
export async function keepTrying<T>(
  connect: () => Promise<T>,
  options: { stopped: () => boolean; report: (error: unknown) => void; wait: (ms: number) => Promise<void> },
): Promise<T | undefined> {
  let delay: number = START_RETRY.initialDelayMs;
  while (!options.stopped()) {
    try {
      return await connect();
    } catch (error) {
      options.report(error);
    }
    await options.wait(delay);
    delay = Math.min(delay * 2, START_RETRY.maxDelayMs);
  }
  return undefined;
}
