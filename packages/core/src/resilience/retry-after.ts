/**
 * Reads how long a server asked the client to wait before trying again.
 *
 * Sources, all optional, the longest wins (never wait less than asked):
 * - `Retry-After`: delay-seconds or an HTTP-date (RFC 9110);
 * - `retry-after-ms`: milliseconds (sent by some API gateways);
 * - only when the response says the budget is spent (a 429, or a remaining
 *   count of 0): `RateLimit-Reset` (delta seconds), the `t=`/`reset=`
 *   parameter of the IETF `RateLimit` field, and `x-ratelimit-reset` (delta
 *   seconds, or an epoch timestamp in seconds or milliseconds).
 */

const EPOCH_SECONDS = 1e9; // values this large are timestamps, not deltas
const EPOCH_MILLIS = 1e12;

/** Parses a non-negative decimal number; undefined for anything else. */
function parseNumber(value: string | null): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

/** `Retry-After`: seconds, or an HTTP-date relative to `now`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const seconds = parseNumber(value);
  if (seconds !== undefined) return seconds * 1000;
  // HTTP-dates start with a day name (IMF-fixdate, RFC 850, asctime); anything
  // else (e.g. "-3", which Date.parse reads as a year) is not a date here.
  if (!/^\s*[A-Za-z]{3}/.test(value)) return undefined;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** `x-ratelimit-reset`: delta seconds, or an epoch timestamp in seconds or milliseconds. */
function parseReset(value: string | null, now: number): number | undefined {
  const n = parseNumber(value);
  if (n === undefined) return undefined;
  if (n >= EPOCH_MILLIS) return Math.max(0, n - now);
  if (n >= EPOCH_SECONDS) return Math.max(0, n * 1000 - now);
  return n * 1000;
}

/** The `t=` (draft 7+) or `reset=` (earlier drafts) parameter of an IETF `RateLimit` field, in ms. */
function parseRateLimitField(value: string | null): number | undefined {
  if (value === null) return undefined;
  const match = /(?:^|[;,\s])(?:t|reset)=(\d+(?:\.\d+)?)/.exec(value);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1000;
}

/** True when the IETF `RateLimit` field or an `x-ratelimit-remaining` header says nothing is left. */
function budgetSpent(headers: Headers): boolean {
  if (parseNumber(headers.get('x-ratelimit-remaining')) === 0) return true;
  if (parseNumber(headers.get('ratelimit-remaining')) === 0) return true;
  const field = headers.get('ratelimit');
  return field !== null && /(?:^|[;,\s])(?:r|remaining)=0(?:\D|$)/.test(field);
}

/**
 * The longest wait, in milliseconds, that a response's headers ask for, or
 * `undefined` when they ask for none.
 *
 * @param now the current time in epoch milliseconds (HTTP-dates and epoch resets are relative to it)
 */
export function serverWaitMs(response: Pick<Response, 'status' | 'headers'>, now: number): number | undefined {
  const h = response.headers;
  let wait: number | undefined;
  const take = (ms: number | undefined) => {
    if (ms !== undefined && (wait === undefined || ms > wait)) wait = ms;
  };
  take(parseRetryAfter(h.get('retry-after'), now));
  take(parseNumber(h.get('retry-after-ms')));
  if (response.status === 429 || budgetSpent(h)) {
    take(parseReset(h.get('ratelimit-reset'), now));
    take(parseRateLimitField(h.get('ratelimit')));
    take(parseReset(h.get('x-ratelimit-reset'), now));
  }
  return wait === undefined ? undefined : Math.ceil(wait);
}
