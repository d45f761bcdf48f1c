/**
 * Small helpers shared by the resilience layers. Not exported from the package.
 * @internal
 */
import { isBallastError } from '../errors';
import { isResilienceError, ResilienceError } from './errors';
import type { ResilienceEvent, ResilienceEventHandler } from './types';

/** Drops keys whose value is undefined, so spreading over defaults keeps the defaults. */
export function definedOnly<T extends object>(options: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(options)) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/**
 * The URL of a fetch input, as a string, without parsing it.
 * @throws ResilienceError `invalid_request` when the input is not a string, a URL or a Request
 */
export function urlOf(input: string | URL | Request): string {
  if (typeof input === 'string') return input;
  if (input instanceof URL) return input.href;
  const url = (input as { url?: unknown } | null | undefined)?.url;
  if (typeof url !== 'string') {
    throw new ResilienceError(
      'resilientFetch',
      'invalid_request',
      `fetch input must be a URL string, a URL or a Request, got ${input === null ? 'null' : typeof input}`,
    );
  }
  return url;
}

/** The upper-cased method of a fetch call. */
export function methodOf(input: string | URL | Request, init: RequestInit | undefined): string {
  const m = init?.method ?? (typeof input === 'object' && !(input instanceof URL) ? input.method : 'GET');
  return m.toUpperCase();
}

/**
 * The host (with port) of an absolute URL, found by scanning the string rather
 * than building a `URL` object (this runs on every call). Relative URLs map to ''.
 */
export function hostOf(url: string): string {
  const scheme = url.indexOf('://');
  if (scheme < 0) return '';
  const start = scheme + 3;
  let end = url.length;
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
  }
  const authority = url.slice(start, end);
  const at = authority.lastIndexOf('@');
  return (at < 0 ? authority : authority.slice(at + 1)).toLowerCase();
}

/** Calls each handler, swallowing what they throw: observing must never break a call. */
export function emitter(...handlers: Array<ResilienceEventHandler | undefined>): ResilienceEventHandler | undefined {
  const list = handlers.filter((h): h is ResilienceEventHandler => h !== undefined);
  if (list.length === 0) return undefined;
  return (event: ResilienceEvent) => {
    for (const h of list) {
      try {
        h(event);
      } catch {
        // an observer's failure is not the call's failure
      }
    }
  };
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Reads a header from a fetch call's init or Request input, without building a Request. */
export function headerOf(input: string | URL | Request, init: RequestInit | undefined, name: string): string | null {
  const h = init?.headers;
  if (h !== undefined) {
    if (h instanceof Headers) return h.get(name);
    if (Array.isArray(h)) {
      const lower = name.toLowerCase();
      for (const pair of h) if (pair[0]?.toLowerCase() === lower) return pair[1] ?? null;
      return null;
    }
    const lower = name.toLowerCase();
    for (const k of Object.keys(h)) if (k.toLowerCase() === lower) return (h as Record<string, string>)[k] ?? null;
    return null;
  }
  return typeof input === 'object' && !(input instanceof URL) ? input.headers.get(name) : null;
}

/** Cancels an unread body so its connection returns to the pool; errors are irrelevant here. */
export function discard(response: Response): void {
  if (response.body && !response.bodyUsed) response.body.cancel().catch(() => {});
}

/** The first string `code` on an error or its causes (Node system errors, undici errors). */
export function errorCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * True when a thrown error means the network or the provider failed: a fetch
 * network error, a system error, or a per-attempt timeout. A Ballast layer's
 * own refusal (open breaker, full limiter queue, deadline) and the caller's
 * abort are not.
 */
export function isNetworkError(error: unknown): boolean {
  if (isBallastError(error)) return isResilienceError(error) && error.code === 'timeout';
  if (error instanceof Error && error.name === 'AbortError') return false;
  return error instanceof TypeError || errorCode(error) !== undefined;
}
