/**
 * The one reader of what a response says about waiting and rate limits, used
 * by the retry layer (`serverWaitMs`) and by the limiters
 * (`readRateLimitHeaders`):
 *
 * - `Retry-After` (delay-seconds or an HTTP-date, RFC 9110) and
 *   `retry-after-ms` (milliseconds, sent by some API gateways);
 * - the de-facto `X-RateLimit-Limit` / `-Remaining` / `-Reset` trio;
 * - the IETF fields: the separate `RateLimit-Limit` / `-Remaining` / `-Reset`
 *   of early drafts, the draft-07 `RateLimit: limit=, remaining=, reset=`
 *   dictionary with `RateLimit-Policy: 10;w=1`, and the draft-08-and-later
 *   `RateLimit: "name";r=;t=` list with `RateLimit-Policy: "name";q=;w=`.
 *
 * Each format is parsed here once; the two readings differ only where their
 * callers need different answers from the same headers (see each function).
 * Values a provider gets wrong (negative, not a number, unparseable) are
 * ignored rather than thrown on: one odd header must not break a call that
 * already succeeded.
 */

/** The part of `Headers` the reader needs: any fetch implementation's headers fit. */
export interface HeaderReader {
  get(name: string): string | null;
}

/** What a response says about the budget of the key it was sent under. */
export interface RateLimitSignal {
  /** Units the window allows in total. */
  limit?: number;
  /** Units left in the current window. */
  remaining?: number;
  /** Milliseconds from now until the budget is restored to `limit`. */
  resetMs?: number;
  /** Length of the provider's window in milliseconds, when a policy names it. */
  windowMs?: number;
  /** Milliseconds a `Retry-After` / `retry-after-ms` asks the client to wait. */
  retryAfterMs?: number;
}

/**
 * True for anything shaped like a fetch `Response` (a status and readable
 * headers), from this realm or another fetch implementation.
 * @internal
 */
export function isResponseLike(value: unknown): value is { status: number; headers: HeaderReader } {
  if (typeof value !== 'object' || value === null) return false;
  const { status, headers } = value as { status?: unknown; headers?: { get?: unknown } | null };
  return (
    typeof status === 'number' && typeof headers === 'object' && headers !== null && typeof headers.get === 'function'
  );
}

/** Reset values at or above this are epoch seconds, not seconds-until-reset (a delta this large would be 31 years). */
const EPOCH_SECONDS_FLOOR = 1e9;
/** Reset values at or above this are epoch milliseconds. */
const EPOCH_MS_FLOOR = 1e12;

/** One header as a string, or null: header objects of other fetch implementations may answer undefined or an array. */
function field(headers: HeaderReader, name: string): string | null {
  const value: unknown = headers.get(name);
  return typeof value === 'string' ? value : null;
}

/** A non-negative decimal number, or undefined for anything else. */
function nonNegative(value: string | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = value.trim();
  if (!/^\d+(\.\d+)?$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Turns a reset value into milliseconds from `now`. Seconds-until-reset and
 * unix epoch seconds are told apart by size: no provider resets 31 years
 * ahead, and no epoch timestamp is below 1e9 (September 2001).
 * @internal
 */
export function resetToMs(value: number, now: number): number {
  if (value >= EPOCH_MS_FLOOR) return Math.max(0, value - now);
  if (value >= EPOCH_SECONDS_FLOOR) return Math.max(0, value * 1000 - now);
  return value * 1000;
}

/**
 * Parses `Retry-After` (delay-seconds or HTTP-date) into milliseconds from `now`.
 * @internal
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const seconds = nonNegative(value);
  if (seconds !== undefined) return seconds * 1000;
  // HTTP-dates start with a day name (IMF-fixdate, RFC 850, asctime); anything
  // else (e.g. "-3", which Date.parse reads as a year) is not a date here
  if (!/^\s*[A-Za-z]{3}/.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Splits a structured-field list or dictionary on top-level separators (separators inside quotes stay). */
function splitTopLevel(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (ch === '"' && value[i - 1] !== '\\') quoted = !quoted;
    if (ch === separator && !quoted) {
      parts.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim() !== '') parts.push(current.trim());
  return parts;
}

interface Member {
  /** The bare item (a name, a number), or the key of a `key=value` dictionary member. */
  head: string;
  /** The dictionary member's value, for `key=value`. */
  value: string | undefined;
  params: Map<string, string>;
}

function parseMembers(field: string): Member[] {
  return splitTopLevel(field, ',').map((member) => {
    const [first = '', ...rest] = splitTopLevel(member, ';');
    const params = new Map<string, string>();
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0) params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim());
    }
    const eq = first.startsWith('"') ? -1 : first.indexOf('=');
    return eq > 0
      ? { head: first.slice(0, eq).trim().toLowerCase(), value: first.slice(eq + 1).trim(), params }
      : { head: first.replace(/^"|"$/g, ''), value: undefined, params };
  });
}

interface Policy {
  name: string;
  quota: number | undefined;
  windowMs: number | undefined;
}

function parsePolicies(field: string | null): Policy[] {
  if (field === null) return [];
  return parseMembers(field).map((m) => {
    const w = nonNegative(m.params.get('w'));
    // draft-08+: "name";q=100;w=60 — draft-07: 100;w=60
    const quota = nonNegative(m.params.get('q')) ?? nonNegative(m.head);
    return { name: m.head, quota, windowMs: w === undefined ? undefined : w * 1000 };
  });
}

function setIfDefined<K extends keyof RateLimitSignal>(
  target: RateLimitSignal,
  key: K,
  value: number | undefined,
): void {
  if (value !== undefined) target[key] = value;
}

/** `X-RateLimit-Limit` / `-Remaining` / `-Reset` (the reset as a delta, or epoch seconds or milliseconds). */
function readXRateLimit(headers: HeaderReader, now: number): RateLimitSignal {
  const signal: RateLimitSignal = {};
  setIfDefined(signal, 'limit', nonNegative(field(headers, 'x-ratelimit-limit')));
  setIfDefined(signal, 'remaining', nonNegative(field(headers, 'x-ratelimit-remaining')));
  const reset = nonNegative(field(headers, 'x-ratelimit-reset'));
  if (reset !== undefined) signal.resetMs = resetToMs(reset, now);
  return signal;
}

/** Reads the IETF fields over `into`: what they state replaces what is there. */
function readIetf(headers: HeaderReader, now: number, into: RateLimitSignal): void {
  const policies = parsePolicies(field(headers, 'ratelimit-policy'));
  const rateLimit = field(headers, 'ratelimit');
  if (rateLimit !== null) {
    const members = parseMembers(rateLimit);
    const dictionary = new Map(members.filter((m) => m.value !== undefined).map((m) => [m.head, m.value as string]));
    if (dictionary.size > 0) {
      // draft-07: RateLimit: limit=100, remaining=50, reset=30
      setIfDefined(into, 'limit', nonNegative(dictionary.get('limit')));
      setIfDefined(into, 'remaining', nonNegative(dictionary.get('remaining')));
      const reset = nonNegative(dictionary.get('reset'));
      if (reset !== undefined) into.resetMs = resetToMs(reset, now);
    } else {
      // draft-08+: RateLimit: "default";r=50;t=30. The binding policy is the one
      // with the least left; among those, the one that resets last.
      let binding: { name: string; r: number; t: number | undefined } | undefined;
      for (const m of members) {
        const r = nonNegative(m.params.get('r'));
        if (r === undefined) continue;
        const t = nonNegative(m.params.get('t'));
        if (binding === undefined || r < binding.r || (r === binding.r && (t ?? 0) > (binding.t ?? 0))) {
          binding = { name: m.head, r, t };
        }
      }
      if (binding !== undefined) {
        into.remaining = binding.r;
        if (binding.t !== undefined) into.resetMs = binding.t * 1000;
        const name = binding.name;
        const policy = policies.find((p) => p.name === name);
        if (policy?.quota !== undefined) into.limit = policy.quota;
        if (policy?.windowMs !== undefined) into.windowMs = policy.windowMs;
      }
    }
  } else {
    // drafts up to 06: separate fields
    setIfDefined(into, 'limit', nonNegative(field(headers, 'ratelimit-limit')));
    setIfDefined(into, 'remaining', nonNegative(field(headers, 'ratelimit-remaining')));
    const reset = nonNegative(field(headers, 'ratelimit-reset'));
    if (reset !== undefined) into.resetMs = resetToMs(reset, now);
  }
  if (into.windowMs === undefined && policies.length > 0) {
    const match = policies.find((p) => p.quota !== undefined && p.quota === into.limit) ?? policies[0];
    if (match?.windowMs !== undefined) into.windowMs = match.windowMs;
    if (into.limit === undefined && match?.quota !== undefined) into.limit = match.quota;
  }
}

/**
 * Reads every rate-limit header Ballast understands from `source`. When a
 * response states a value twice, the more precise source wins: IETF fields
 * over `X-RateLimit-*`, `retry-after-ms` over `Retry-After`.
 *
 * @param now the current time in epoch milliseconds (HTTP-dates and epoch resets are relative to it)
 * @example
 * ```ts
 * const res = await fetch('https://api.example.com/v1/items');
 * const { remaining, resetMs } = readRateLimitHeaders(res.headers);
 * ```
 */
export function readRateLimitHeaders(source: HeaderReader, now: number = Date.now()): RateLimitSignal {
  const signal = readXRateLimit(source, now);
  readIetf(source, now, signal);
  const retryAfterMs =
    nonNegative(field(source, 'retry-after-ms')) ?? parseRetryAfter(field(source, 'retry-after'), now);
  if (retryAfterMs !== undefined) signal.retryAfterMs = retryAfterMs;
  return signal;
}

/**
 * True when a response may report a spent budget: a `remaining` of 0 in
 * `X-RateLimit-Remaining` or `RateLimit-Remaining`, or one that may be in the
 * IETF `RateLimit` field. Three header look-ups and no parsing, so a limiter
 * can skip reading a response that cannot pause it; never false for a
 * response that does report a spent budget.
 * @internal
 */
export function mayReportSpentBudget(headers: HeaderReader): boolean {
  if (nonNegative(field(headers, 'x-ratelimit-remaining')) === 0) return true;
  if (nonNegative(field(headers, 'ratelimit-remaining')) === 0) return true;
  const rateLimit = field(headers, 'ratelimit');
  return rateLimit !== null && /(?:^|[;,\s])(?:r|remaining)\s*=\s*0/i.test(rateLimit);
}

/**
 * How long a response asks a limiter to pause the key it was sent under, in
 * milliseconds, or undefined for no pause: a 429 for its `Retry-After` /
 * `retry-after-ms`, else its reset, else `pauseOn429`; any other response
 * only when it reports nothing remaining, until its reset.
 * @internal
 */
export function pauseAsked(status: number, signal: RateLimitSignal, pauseOn429: number): number | undefined {
  if (status === 429) return signal.retryAfterMs ?? signal.resetMs ?? pauseOn429;
  return signal.remaining !== undefined && signal.remaining <= 0 ? signal.resetMs : undefined;
}

function longer(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || (b !== undefined && b > a) ? b : a;
}

/**
 * The longest wait, in milliseconds, that a response's headers ask for, or
 * `undefined` when they ask for none. The retry layer never waits less than
 * asked, so where `readRateLimitHeaders` takes the more precise of two values,
 * this takes the longer.
 *
 * Read: `Retry-After` and `retry-after-ms`; and, only when the response says
 * the budget is spent (a 429, or a remaining count of 0), the reset of the
 * `X-RateLimit-*` trio and of the IETF fields.
 *
 * @param now the current time in epoch milliseconds (HTTP-dates and epoch resets are relative to it)
 * @example
 * ```ts
 * const res = await fetch('https://api.example.com/v1/items');
 * const waitMs = serverWaitMs(res, Date.now()); // e.g. 2000 for `Retry-After: 2`
 * ```
 */
export function serverWaitMs(response: { status: number; headers: HeaderReader }, now: number): number | undefined {
  const h = response.headers;
  let wait = longer(parseRetryAfter(field(h, 'retry-after'), now), nonNegative(field(h, 'retry-after-ms')));
  if (response.status === 429 || mayReportSpentBudget(h)) {
    const x = readXRateLimit(h, now);
    const ietf: RateLimitSignal = {};
    readIetf(h, now, ietf);
    if (response.status === 429 || x.remaining === 0 || ietf.remaining === 0) {
      wait = longer(longer(wait, x.resetMs), ietf.resetMs);
    }
  }
  return wait === undefined ? undefined : Math.ceil(wait);
}
