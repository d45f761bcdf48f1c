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

/** TypeError messages browsers and other runtimes use for a request that failed on the network, with no code. */
const NETWORK_MESSAGES = new Set([
  'Failed to fetch',
  'NetworkError when attempting to fetch resource.',
  'Load failed',
  'Network request failed',
]);

/** undici codes that describe the request or the caller, not the network. */
const LOCAL_UNDICI_CODES = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_INVALID_RETURN_VALUE',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_ABORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_REQ_RETRY',
]);

/** True for a code that names a failure of the network or of the peer (system errors, undici's socket errors, TLS). */
function isNetworkCode(code: string): boolean {
  if (code.startsWith('UND_ERR_')) return !LOCAL_UNDICI_CODES.has(code);
  if (code.startsWith('ERR_')) return code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_');
  if (/^E[A-Z0-9_]+$/.test(code)) return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENOTFOUND, EAI_AGAIN, EPIPE...
  return code.includes('CERT') || code.startsWith('UNABLE_TO_'); // OpenSSL verification codes
}

/**
 * True when a thrown error means the network or the provider failed: undici's
 * `TypeError('fetch failed')` whose cause carries a socket, DNS or TLS code
 * (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET...), a browser's network TypeError,
 * a system error, or a per-attempt `timeout`. Not a request the fetch refused
 * to build (a header byte above 0xFF, a GET with a body, a bad URL or port:
 * TypeErrors without a network code), a Ballast layer's own refusal, or the
 * caller's abort.
 */
export function isNetworkFailure(error: unknown): boolean {
  if (isBallastError(error)) return isResilienceError(error) && error.code === 'timeout';
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) return false;
  const code = errorCode(error);
  if (code !== undefined) return isNetworkCode(code);
  if (!(error instanceof TypeError)) return false;
  // undici wraps every failure to exchange the request in 'fetch failed'; with no code, the one
  // local cause it reports is a blocked port.
  if (error.message === 'fetch failed')
    return (error.cause as { message?: unknown } | undefined)?.message !== 'bad port';
  return NETWORK_MESSAGES.has(error.message);
}

/** True for a TypeError the fetch threw because it could not build or send the request as given. */
export function isRequestError(error: unknown): error is TypeError {
  return error instanceof TypeError && !isBallastError(error) && !isNetworkFailure(error);
}

/** Query parameters whose values are redacted from URLs in events. */
const SECRET_PARAM = /key|token|secret|sig|signature|password|passwd|auth|credential|session|code/i;

/**
 * A URL fit for logs: userinfo dropped and the values of query parameters
 * that look like credentials (`key`, `token`, `signature`, `X-Amz-Signature`...)
 * replaced by `redacted`. Runs only when an event is emitted.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/[?#].*$/, '');
  }
  parsed.username = '';
  parsed.password = '';
  for (const name of new Set(parsed.searchParams.keys())) {
    if (SECRET_PARAM.test(name)) parsed.searchParams.set(name, 'redacted');
  }
  return parsed.href;
}

/** True for a request body that can be read only once (a stream or an async iterable). */
export function isStreamBody(body: unknown): boolean {
  return (
    body instanceof ReadableStream ||
    (typeof body === 'object' && body !== null && Symbol.asyncIterator in body && !(body instanceof Blob))
  );
}
