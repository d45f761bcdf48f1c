/**
 * Reading a provider's rate-limit state from response headers: the de-facto
 * `X-RateLimit-*` trio, the IETF `RateLimit` / `RateLimit-Policy` fields (the
 * draft-07 dictionary form, the draft-08-and-later list form, and the older
 * separate `RateLimit-Limit` / `-Remaining` / `-Reset` fields) and a 429's
 * `Retry-After` (seconds or HTTP-date) or `retry-after-ms`.
 *
 * Values a provider gets wrong (negative, not a number, unparseable) are
 * ignored rather than thrown on: one odd header must not break a call that
 * already succeeded.
 */

/** The part of `Headers` the reader needs: any fetch implementation's headers fit. */
export interface HeaderReader {
  get(name: string): string | null;
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

/** Reset values at or above this are epoch seconds, not seconds-until-reset (a delta this large would be 31 years). */
const EPOCH_SECONDS_FLOOR = 1e9;
/** Reset values at or above this are epoch milliseconds. */
const EPOCH_MS_FLOOR = 1e12;

function nonNegative(value: string | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = value.trim();
  if (text === '' || !/^\d+(\.\d+)?$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Turns a reset value into milliseconds from `now`. Seconds-until-reset and
 * unix epoch seconds are told apart by size: no provider resets 31 years
 * ahead, and no epoch timestamp is below 1e9 (September 2001).
 */
export function resetToMs(value: number, now: number): number {
  if (value >= EPOCH_MS_FLOOR) return Math.max(0, value - now);
  if (value >= EPOCH_SECONDS_FLOOR) return Math.max(0, value * 1000 - now);
  return value * 1000;
}

/** Parses `Retry-After` (delay-seconds or HTTP-date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const seconds = nonNegative(value);
  if (seconds !== undefined) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Splits a structured-field list or dictionary on top-level commas (commas inside quotes stay). */
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

function readIetf(headers: HeaderReader, now: number, into: RateLimitSignal): void {
  const policies = parsePolicies(headers.get('ratelimit-policy'));
  const field = headers.get('ratelimit');
  if (field !== null) {
    const members = parseMembers(field);
    const dictionary = new Map(members.filter((m) => m.value !== undefined).map((m) => [m.head, m.value as string]));
    if (dictionary.size > 0) {
      // draft-07: RateLimit: limit=100, remaining=50, reset=30
      setIfDefined(into, 'limit', nonNegative(dictionary.get('limit')));
      setIfDefined(into, 'remaining', nonNegative(dictionary.get('remaining')));
      const reset = nonNegative(dictionary.get('reset'));
      if (reset !== undefined) into.resetMs = resetToMs(reset, now);
    } else {
      // draft-08+: RateLimit: "default";r=50;t=30 — the binding policy is the one with the least left
      let binding: { name: string; r: number; t: number | undefined } | undefined;
      for (const m of members) {
        const r = nonNegative(m.params.get('r'));
        if (r === undefined) continue;
        const t = nonNegative(m.params.get('t'));
        if (binding === undefined || r < binding.r) binding = { name: m.head, r, t };
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
    setIfDefined(into, 'limit', nonNegative(headers.get('ratelimit-limit')));
    setIfDefined(into, 'remaining', nonNegative(headers.get('ratelimit-remaining')));
    const reset = nonNegative(headers.get('ratelimit-reset'));
    if (reset !== undefined) into.resetMs = resetToMs(reset, now);
  }
  if (into.windowMs === undefined && policies.length > 0) {
    const match = policies.find((p) => p.quota !== undefined && p.quota === into.limit) ?? policies[0];
    if (match?.windowMs !== undefined) into.windowMs = match.windowMs;
    if (into.limit === undefined && match?.quota !== undefined) into.limit = match.quota;
  }
}

function setIfDefined<K extends keyof RateLimitSignal>(
  target: RateLimitSignal,
  key: K,
  value: number | undefined,
): void {
  if (value !== undefined) target[key] = value;
}

/**
 * Reads every rate-limit header Ballast understands from `source`. IETF
 * fields win over `X-RateLimit-*` when a response carries both.
 */
export function readRateLimitHeaders(source: HeaderReader, now: number = Date.now()): RateLimitSignal {
  // header objects of other fetch implementations may answer undefined, or repeat a field as an array
  const headers: HeaderReader = {
    get: (name) => {
      const value: unknown = source.get(name);
      return typeof value === 'string' ? value : null;
    },
  };
  const signal: RateLimitSignal = {};
  setIfDefined(signal, 'limit', nonNegative(headers.get('x-ratelimit-limit')));
  setIfDefined(signal, 'remaining', nonNegative(headers.get('x-ratelimit-remaining')));
  const reset = nonNegative(headers.get('x-ratelimit-reset'));
  if (reset !== undefined) signal.resetMs = resetToMs(reset, now);
  readIetf(headers, now, signal);
  const retryAfterMs = nonNegative(headers.get('retry-after-ms')) ?? parseRetryAfter(headers.get('retry-after'), now);
  if (retryAfterMs !== undefined) signal.retryAfterMs = retryAfterMs;
  return signal;
}
