/**
 * Shared by the resilience tests: an msw server that fails loudly on any
 * request no test handled, helpers to drive fake timers, and helpers that
 * return the error a call threw or rejected with.
 * @internal
 */
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, vi } from 'vitest';
import { isRateLimitError, type RateLimitError } from './rate-limit/errors';
import type { ResilienceEvent } from './types';

/** Starts one msw server for the file, resetting handlers and timers between tests. */
export function useMsw() {
  const server = setupServer();
  // msw 3 renamed onUnhandledRequest to onUnhandledFrame: any request no test handled is an error
  beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
  afterEach(() => {
    server.resetHandlers();
    vi.useRealTimers();
  });
  afterAll(() => server.close());
  return server;
}

/** Collects events for assertions. */
export function recorder() {
  const events: ResilienceEvent[] = [];
  return {
    events,
    onEvent: (e: ResilienceEvent) => {
      events.push(e);
    },
    types: () => events.map((e) => e.type),
  };
}

/** Settles a promise while fake timers advance, so a rejection is never left unhandled. */
export function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** The `RateLimitError` a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<RateLimitError> {
  try {
    await promise;
  } catch (error) {
    if (isRateLimitError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

/** What `build` throws (a factory given bad options), or undefined when it does not throw. */
export function thrownBy(build: () => unknown): unknown {
  try {
    build();
  } catch (error) {
    return error;
  }
  return undefined;
}
