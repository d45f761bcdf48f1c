/**
 * The default error channel for work that runs in the background (a worker's
 * sweep, a pool's dropped connection, a queue send): there is no caller to
 * reject, so errors go to an `onError` option, and without one to a reporter
 * that writes each distinct cause to the console once.
 */

/** Receives an error from background work. Must not throw; if it does, the throw is swallowed. */
export type ErrorReporter = (error: unknown) => void;

/** How many distinct causes a default reporter remembers before it starts over. */
const REMEMBERED = 256;

function causeOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}\u0000${typeof code === 'string' ? code : ''}\u0000${error.message}`;
  }
  return `value\u0000${String(error)}`;
}

/**
 * A reporter that logs each distinct cause (error name, code and message)
 * once, so a failure that repeats every second (a database that is down while
 * a sweep polls) is visible without flooding the log. `scope` names the
 * component in the line, e.g. `inbox worker stripe`.
 */
export function logOnceReporter(
  scope: string,
  log: (line: string, error: unknown) => void = console.error,
): ErrorReporter {
  const seen = new Set<string>();
  return (error) => {
    const cause = causeOf(error);
    if (seen.has(cause)) return;
    if (seen.size >= REMEMBERED) seen.clear();
    seen.add(cause);
    log(`[@ballast/core] [${scope}] background error (further identical errors are not logged):`, error);
  };
}

/** Wraps a user's reporter so that a reporter that throws cannot break the work that reports to it. */
export function safeReporter(reporter: ErrorReporter): ErrorReporter {
  return (error) => {
    try {
      reporter(error);
    } catch {
      // a broken reporter must not stop a worker or a pool
    }
  };
}
