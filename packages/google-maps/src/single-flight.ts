/**
 * Concurrent identical requests share one call. Each caller keeps its own
 * signal: a caller that aborts stops waiting (rejecting with its reason),
 * and the shared call is aborted only once every caller has.
 * @internal
 */
export interface SingleFlight {
  run<T>(key: string, signal: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Calls in flight. */
  readonly size: number;
}

interface Flight {
  promise: Promise<unknown>;
  controller: AbortController;
  waiting: number;
}

/** @internal */
export function singleFlight(): SingleFlight {
  const flights = new Map<string, Flight>();
  return {
    get size() {
      return flights.size;
    },
    run<T>(key: string, signal: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
      if (signal?.aborted) return Promise.reject(signal.reason);
      let flight = flights.get(key);
      if (flight === undefined) {
        const controller = new AbortController();
        const created: Flight = { controller, waiting: 0, promise: Promise.resolve() };
        created.promise = (async () => {
          try {
            return await fn(controller.signal);
          } finally {
            if (flights.get(key) === created) flights.delete(key);
          }
        })();
        created.promise.catch(() => {});
        flights.set(key, created);
        flight = created;
      }
      const joined = flight;
      joined.waiting++;
      if (signal === undefined) {
        return (joined.promise as Promise<T>).finally(() => {
          joined.waiting--;
        });
      }
      return new Promise<T>((resolve, reject) => {
        let done = false;
        const leave = () => {
          if (done) return false;
          done = true;
          joined.waiting--;
          signal.removeEventListener('abort', onAbort);
          return true;
        };
        const onAbort = () => {
          if (!leave()) return;
          reject(signal.reason);
          if (joined.waiting === 0) {
            if (flights.get(key) === joined) flights.delete(key);
            joined.controller.abort(signal.reason);
          }
        };
        signal.addEventListener('abort', onAbort, { once: true });
        (joined.promise as Promise<T>).then(
          (value) => {
            if (leave()) resolve(value);
          },
          (error: unknown) => {
            if (leave()) reject(error);
          },
        );
      });
    },
  };
}
